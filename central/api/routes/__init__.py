"""The API routes, one module per resource; every path starts with ``API_PREFIX``."""

API_PREFIX = "/api/v1"
