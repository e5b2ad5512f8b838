"""What the Access control, Rate limiting and Guardrails tabs show: the route's policies of the tab's
categories (with their place in `spec.policies`) and a form per policy type of those categories."""

from __future__ import annotations

from typing import Any

from tollgate.console.pages import Session
from tollgate.console.policy_form import TAB_CATEGORIES, param_fields


async def policy_context(
    session: Session, doc: dict[str, Any], tab: str, edit: int | None, posted: dict[str, Any] | None
) -> dict[str, Any]:
    """`posted` (after a refused save): the policy name, index and params the form held, shown again."""
    categories = TAB_CATEGORIES[tab]
    catalog = [p for p in await session.api.get("/policies") if p["category"] in categories]
    names = {p["name"] for p in catalog}
    attached = [(i, ref) for i, ref in enumerate(doc["spec"].get("policies") or []) if ref["name"] in names]
    forms = []
    for policy in catalog:
        params: dict[str, Any] = {}
        index: int | None = None
        paths: list[dict[str, Any]] = []
        if posted is not None and posted["name"] == policy["name"]:
            params, index, paths = posted["params"], posted["index"], posted["paths"]
        elif edit is not None and 0 <= edit < len(doc["spec"].get("policies") or []):
            ref = doc["spec"]["policies"][edit]
            if ref["name"] == policy["name"]:
                params, index, paths = ref.get("params") or {}, edit, ref.get("paths") or []
        forms.append(
            {
                "policy": policy,
                "fields": param_fields(policy["parameters"]),
                "params": params,
                "index": index,
                "paths": "\n".join(p["path"] for p in paths),
                "open": index is not None or (posted is not None and posted["name"] == policy["name"]),
            }
        )
    return {"attached": attached, "policy_forms": forms}
