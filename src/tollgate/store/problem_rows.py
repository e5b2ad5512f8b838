"""Rows of `gateway_problems`: the deployments a gateway's nodes report they cannot serve, and why.

A node replaces its gateway's rows whenever the set changes (not a configuration change: no
revision bump). The management API shows them in `get gateways` and on each deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from tollgate.store.schema import gateway_problems
from tollgate.store.tx import to_utc

_MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class DeploymentProblem:
    """One deployed provider or proxy a gateway does not serve (it answers 503 or 404), with the reason."""

    gateway: str
    kind: str
    name: str
    reason: str
    reported_at: datetime


def replace(conn: Connection, gateway: str, problems: Mapping[tuple[str, str], str], at: datetime) -> None:
    conn.execute(delete(gateway_problems).where(gateway_problems.c.gateway == gateway))
    if problems:
        rows = [
            {"gateway": gateway, "kind": kind, "name": name, "reason": reason[:_MAX_REASON], "reported_at": at}
            for (kind, name), reason in sorted(problems.items())
        ]
        conn.execute(insert(gateway_problems), rows)


def fetch(conn: Connection, gateway: str | None = None) -> list[DeploymentProblem]:
    query = select(gateway_problems).order_by(
        gateway_problems.c.gateway, gateway_problems.c.kind, gateway_problems.c.name
    )
    if gateway is not None:
        query = query.where(gateway_problems.c.gateway == gateway)
    return [
        DeploymentProblem(row.gateway, row.kind, row.name, row.reason, to_utc(row.reported_at) or row.reported_at)
        for row in conn.execute(query)
    ]
