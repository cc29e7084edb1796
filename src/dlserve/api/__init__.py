"""HTTP: FastAPI routers that parse the wire formats and map service errors to envelopes."""
