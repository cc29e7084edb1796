"""Webhooks: a signed POST (Standard Webhooks) to the caller's URL when a download ends.

- :mod:`.urls` — checking a ``webhook_url`` when a download is created (the media SSRF guard);
- :mod:`.secrets` — the account's ``whsec_`` secret: created lazily, rotated on request;
- :mod:`.events` — a delivery queued in the transaction that ends the download;
- :mod:`.signing` — the ``webhook-*`` headers;
- :mod:`.delivery` — the job that POSTs, records each attempt and schedules the next;
- :mod:`.reads` — the attempts a user lists.
"""
