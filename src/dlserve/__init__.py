"""dlserve: a self-hosted bulk data download service, wire-compatible with the Datafiniti Data API."""

__version__ = "0.1.0"
