"""Laptop-only code: the local stack and the provider sandbox. Never shipped to Lambda."""
