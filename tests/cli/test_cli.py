"""The CLI against a real management API: apply, get, describe, keys, deploy, and the exit codes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.cli.conftest import ADMIN_TOKEN, LiveAPI
from tollgate.cli import main

RESOURCES = """
apiVersion: tollgate.dev/v1
kind: Secret
metadata: {name: openai-key}
spec: {fromEnv: CLI_TEST_OPENAI_KEY}
---
apiVersion: tollgate.dev/v1
kind: LLMProvider
metadata: {name: openai}
spec: {template: openai, context: /openai, upstreamUrl: "http://127.0.0.1:9/openai", credential: {secret: openai-key}}
---
apiVersion: tollgate.dev/v1
kind: LLMProxy
metadata: {name: team}
spec: {provider: openai, context: /team}
"""


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


@pytest.fixture
def resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLI_TEST_OPENAI_KEY", "sk-cli-PLAINTEXT-0123456789")
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "all.yaml").write_text(RESOURCES)
    return folder


def test_apply_is_idempotent_and_says_what_it_did(api: LiveAPI, resources: Path) -> None:
    first = run("apply", "-f", str(resources))
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "Secret openai-key: created",
        "LLMProvider openai: created",
        "LLMProxy team: created",
    ]
    second = run("apply", "-f", str(resources), "-o", "json")
    assert {r["outcome"] for r in json.loads(second.stdout)} == {"unchanged"}
    (resources / "all.yaml").write_text(RESOURCES.replace("context: /team", "context: /team-b"))
    assert "LLMProxy team: changed" in run("apply", "-f", str(resources)).stdout
    assert "sk-cli-PLAINTEXT" not in run("get", "secrets").output


def test_get_describe_and_tables(api: LiveAPI, resources: Path) -> None:
    run("apply", "-f", str(resources))
    table = run("get", "providers").stdout.splitlines()
    assert table[0].split() == ["NAME", "TEMPLATE", "CONTEXT", "UPSTREAM"]
    assert table[1].split()[:3] == ["openai", "openai", "/openai"]
    doc = yaml.safe_load(run("get", "provider", "openai", "-o", "yaml").stdout)
    assert doc["spec"]["context"] == "/openai"
    described = run("describe", "proxy", "team").stdout
    assert "Deployments:" in described and "/team" in described
    deployments = json.loads(run("get", "deployments", "-o", "json").stdout)
    assert {d["name"] for d in deployments} == {"openai", "team"}
    assert run("get", "nonsense").exit_code == 2


def test_keys_create_list_revoke(api: LiveAPI, resources: Path) -> None:
    run("apply", "-f", str(resources))
    created = run("keys", "create", "proxy", "team", "--name", "app", "-o", "json")
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    listed = run("keys", "list").stdout
    assert key["masked"] in listed and key["value"] not in listed and "active" in listed
    assert run("keys", "revoke", key["value"]).exit_code == 0
    assert json.loads(run("keys", "list", "-o", "json").stdout)[0]["status"] == "revoked"
    assert run("keys", "create", "proxy", "ghost", "--name", "x").exit_code == 5


def test_deploy_undeploy_history_restore(api: LiveAPI, resources: Path) -> None:
    assert run("apply", "-f", str(resources), "--no-deploy").exit_code == 0
    typo = run("deploy", "provider", "openai", "-g", "edge")
    assert typo.exit_code == 5 and "no gateway named 'edge'" in typo.stderr
    deployed = run("deploy", "provider", "openai", "-g", "edge", "--create-gateway")
    assert deployed.exit_code == 0 and "Invoke URL: http://127.0.0.1:8080/openai" in deployed.stdout
    assert run("undeploy", "provider", "openai", "-g", "nowhere").exit_code == 5
    assert run("deploy", "proxy", "team", "-g", "edge").exit_code == 0
    refused = run("undeploy", "provider", "openai", "-g", "edge")
    assert refused.exit_code == 1 and "LLMProxy 'team'" in refused.stderr
    assert run("undeploy", "proxy", "team", "-g", "edge").exit_code == 0
    history = json.loads(run("deployments", "history", "proxy", "team", "-g", "edge", "-o", "json").stdout)
    assert [h["live"] for h in history] == [False]
    restored = run("deployments", "restore", "proxy", "team", "-r", "1", "-g", "edge")
    assert restored.exit_code == 0 and "restored as revision 2" in restored.stdout


def test_validation_errors_name_the_field_and_exit_1(api: LiveAPI, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(RESOURCES.replace("context: /team", "context: team"))
    result = run("apply", "-f", str(bad))
    assert result.exit_code == 1 and "spec.context" in result.stderr
    orphan = tmp_path / "orphan.yaml"
    orphan.write_text(RESOURCES.split("---")[2].replace("provider: openai", "provider: ghost"))
    result = run("apply", "-f", str(orphan))
    assert result.exit_code == 1 and "spec.provider" in result.stderr and "ghost" in result.stderr


def test_delete_and_secrets(api: LiveAPI, resources: Path) -> None:
    run("apply", "-f", str(resources))
    assert run("delete", "provider", "openai").exit_code == 1  # in use by the proxy
    assert run("delete", "proxy", "team").exit_code == 0
    assert run("delete", "provider", "openai").exit_code == 0
    assert run("delete", "provider", "openai").exit_code == 5
    assert run("secrets", "set", "other", stdin="sk-from-stdin\n").stdout == "Secret other: created\n"
    assert "other" in run("secrets", "list").stdout


def test_bad_token_exits_4(api: LiveAPI) -> None:
    result = run("get", "providers", "--token", "wrong")
    assert result.exit_code == 4 and "invalid, expired or revoked token: send a user's token" in result.stderr


def test_connection_refused_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("get", "providers", "--url", f"http://127.0.0.1:{port}", "--token", "x")
    assert result.exit_code == 3 and "cannot reach the management API" in result.stderr


def test_config_file_supplies_url_and_token(api: LiveAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cli.yaml"
    config.write_text(yaml.safe_dump({"url": api.url, "token": ADMIN_TOKEN}))
    monkeypatch.delenv("TOLLGATE_URL")
    monkeypatch.delenv("TOLLGATE_ADMIN_TOKEN")
    monkeypatch.setenv("TOLLGATE_CLI_CONFIG", str(config))
    assert run("get", "gateways").exit_code == 0
    assert run("get", "gateways", "--token", "bad").exit_code == 4
