"""docs/policies.md: every policy example in a YAML block validates as the gateway would validate it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tollgate.policies.registry import BUILTIN_POLICIES, validate_params

DOC = Path(__file__).parents[2] / "docs" / "policies.md"


def _policy_refs(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [ref for item in value for ref in _policy_refs(item)]
    if isinstance(value, dict):
        if value.get("name") in BUILTIN_POLICIES and set(value) <= {"name", "params", "paths"}:
            return [value]
        return [ref for item in value.values() for ref in _policy_refs(item)]
    return []


def test_every_policy_example_validates() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    refs = [ref for block in blocks for doc in yaml.safe_load_all(block) for ref in _policy_refs(doc)]
    names = {ref["name"] for ref in refs}
    assert "response-cache" in names and len(names) == len(BUILTIN_POLICIES)
    for i, ref in enumerate(refs):
        validate_params("docs/policies.md", f"example[{i}]", ref["name"], ref.get("params"))
