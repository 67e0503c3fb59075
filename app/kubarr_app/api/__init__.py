"""The HTTP API: FastAPI routers grouped by what they serve."""
