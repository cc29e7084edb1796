"""The web dashboard: static files served by the app, talking to the same public API."""
