"""Media downloads: a video or audio URL at a chosen quality, fetched by yt-dlp into a stored file.

Reading order: :mod:`.service` (what the API does), :mod:`.runner` and :mod:`.worker` (how a job
runs), :mod:`.fetcher` and :mod:`.formats` (yt-dlp), :mod:`.guard`, :mod:`.addresses` and
:mod:`.transport` (the SSRF guard). The design is in ``docs/media.md``.
"""
