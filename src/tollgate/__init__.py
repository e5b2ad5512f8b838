"""Tollgate: a self-hosted AI gateway for the vendors' own SDKs."""

__version__ = "0.1.0"
