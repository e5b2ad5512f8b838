"""Persistence of resources, secrets, keys, deployments and usage (SQLite or PostgreSQL).

Control plane only: the data plane is handed a `ResourceSet` and never queries the store on the
request path. `store` is the only package that speaks SQL.
"""

from tollgate.store.store import ApplyReport, ApplyResult, DeploymentProblem, DeploymentRecord, GatewayRecord, Store
from tollgate.store.urls import DEFAULT_DB_URL, default_db_url

__all__ = [
    "DEFAULT_DB_URL",
    "ApplyReport",
    "ApplyResult",
    "DeploymentProblem",
    "DeploymentRecord",
    "GatewayRecord",
    "Store",
    "default_db_url",
]
