"""The client half of the ``dlserve`` CLI: commands that talk to a dlserve server through the SDK
(``dlserve.client``), registered in ``dlserve.cli`` beside the server commands. See docs/cli.md."""
