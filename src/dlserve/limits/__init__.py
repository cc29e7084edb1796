"""Limits that keep one caller from taking the service down: query cost, admission (rate,
concurrency, a bounded pool for heavy work), login throttling and request body size."""
