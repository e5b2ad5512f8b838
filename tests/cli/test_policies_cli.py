"""`tollgate policies` and the effective chain in `tollgate describe`, against a real management API."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import LiveAPI
from tests.cli.test_cli import run
from tollgate.policies.registry import BUILTIN_POLICIES

DOCS = """
apiVersion: tollgate.dev/v1
kind: LLMProvider
metadata: {name: openai}
spec:
  template: openai
  context: /openai
  upstreamUrl: "http://127.0.0.1:9/openai"
  policies:
    - {name: token-limit, params: {scope: provider, limits: [{tokens: 100000, per: day}]}}
---
apiVersion: tollgate.dev/v1
kind: LLMProxy
metadata: {name: team}
spec:
  provider: openai
  context: /team
  policies:
    - {name: rate-limit, params: {limits: [{requests: 5, per: minute}]}}
    - {name: regex-guardrail, params: {patterns: [secret]}, paths: [{path: /v1/chat/completions, methods: [POST]}]}
"""


def test_policies_lists_every_builtin(api: LiveAPI) -> None:
    result = run("policies")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "CATEGORY", "PARAMETERS", "DESCRIPTION"]
    assert sorted(line.split()[0] for line in lines[1:]) == sorted(BUILTIN_POLICIES)  # one row each, no more
    assert len(BUILTIN_POLICIES) == 16  # the 15 of the policies issue and the response cache
    assert any(line.startswith("rate-limit ") and "limits*" in line for line in lines)
    one = json.loads(run("policies", "token-limit", "-o", "json").output)
    assert one["parameters"]["properties"]["defaultMaxTokens"]["default"] == 1024


def test_describe_shows_the_effective_chain(api: LiveAPI, tmp_path: Path) -> None:
    (tmp_path / "docs.yaml").write_text(DOCS)
    assert run("apply", "-f", str(tmp_path / "docs.yaml")).exit_code == 0
    out = run("describe", "proxy", "team").output
    section = out.split("Policies (effective chain; request order, responses in reverse):\n")[1].split("\n\n")[0]
    assert [line.split()[:2] for line in section.splitlines()] == [
        ["LLMProvider/openai#0", "token-limit"],
        ["LLMProxy/team#0", "rate-limit"],
        ["LLMProxy/team#1", "regex-guardrail"],
    ]
    assert section.splitlines()[2].endswith("/v1/chat/completions POST")


def test_apply_refuses_a_bad_policy_naming_it(api: LiveAPI, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(DOCS.replace("requests: 5", "requests: 0"))
    result = run("apply", "-f", str(tmp_path / "bad.yaml"))
    assert result.exit_code == 1
    assert "(LLMProxy 'team'): spec.policies.0: policy 'rate-limit': params.limits[0].requests: " in result.output
