"""Control plane: the management REST API (FastAPI, served by uvicorn in the node's loop) and its client.

It writes through `resources` + `store` only; gateways pick changes up by following the store revision.
"""
