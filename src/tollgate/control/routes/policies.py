"""The built-in policies and their parameter schemas (what `spec.policies` accepts); read-only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tollgate.policies.registry import policy_schemas

router = APIRouter(tags=["policies"])


@router.get("/policies")
def list_policies() -> list[dict[str, Any]]:
    """Every built-in policy: name, category, description and the JSON Schema of its `params`."""
    return policy_schemas()
