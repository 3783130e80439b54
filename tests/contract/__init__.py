"""Contract tests: the API against its OpenAPI document, on the local stack (see conftest.py)."""
