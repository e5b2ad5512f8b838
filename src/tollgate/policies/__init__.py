"""Policies: one module per policy type behind the phase interface of `policies/base.py`."""
