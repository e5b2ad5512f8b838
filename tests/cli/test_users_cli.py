"""`tollgate users|tokens|whoami|login|audit` against a real management API, with exact output and exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.cli.conftest import LiveAPI
from tollgate.cli import main

PASSWORD = "correct horse battery staple"


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


@pytest.fixture(autouse=True)
def _no_user_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOLLGATE_TOKEN", raising=False)


def _value(output: str) -> str:
    return output.split("Value (shown once, store it now): ")[1].strip()


def test_users_tokens_whoami_and_a_refusal(api: LiveAPI) -> None:
    created = run("users", "create", "ci-bot", "--role", "viewer", "--service")
    assert created.exit_code == 0 and created.stdout == "User ci-bot (service, role viewer): created\n"
    token = run("tokens", "create", "pipeline", "--user", "ci-bot", "--expires-in", "90d")
    assert token.exit_code == 0, token.output
    value = _value(token.stdout)
    token_id = value[4:16]
    assert token.stdout.splitlines()[0] == f"Token pipeline ({token_id}) of user ci-bot: created"
    me = run("whoami", env={"TOLLGATE_TOKEN": value})
    assert me.exit_code == 0
    assert me.stdout.splitlines()[0] == f"ci-bot (service), role viewer, token {token_id}"
    refused = run("secrets", "set", "k", env={"TOLLGATE_TOKEN": value}, stdin="sk-0123456789")
    assert refused.exit_code == 6
    assert refused.stderr.splitlines()[0] == "Error: permission denied: secrets:write is not granted to role 'viewer'"
    listed = json.loads(run("tokens", "list", "--user", "ci-bot", "-o", "json").stdout)
    assert [(t["id"], t["status"]) for t in listed] == [(token_id, "active")]
    rotated = run("tokens", "rotate", value, env={"TOLLGATE_TOKEN": value})
    assert rotated.exit_code == 0 and f"({token_id}) of user ci-bot: rotated" in rotated.stdout
    new_value = _value(rotated.stdout)
    assert run("whoami", env={"TOLLGATE_TOKEN": value}).exit_code == 4
    revoked = run("tokens", "revoke", token_id, env={"TOLLGATE_TOKEN": new_value})
    assert revoked.stdout == f"Token pipeline ({token_id}) of user ci-bot: revoked\n"
    assert run("whoami", env={"TOLLGATE_TOKEN": new_value}).exit_code == 4
    users = run("users", "list").stdout.splitlines()
    assert users[0].split() == ["NAME", "KIND", "ROLE", "PASSWORD", "DISABLED", "CREATED"]
    assert users[1].split()[:5] == ["ci-bot", "service", "viewer", "no", "no"]
    assert run("users", "update", "ci-bot", "--role", "operator", "-o", "json").exit_code == 0
    assert json.loads(run("users", "list", "-o", "json").stdout)[0]["role"] == "operator"
    assert run("users", "delete", "ci-bot").stdout == "User ci-bot: deleted\n"


def test_login_with_a_password_from_stdin(api: LiveAPI) -> None:
    assert (
        run("users", "create", "alice", "--role", "publisher", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    )
    session = run("login", "alice", stdin=PASSWORD + "\n")
    assert session.exit_code == 0, session.output
    lines = session.stdout.splitlines()
    assert lines[0].startswith("Logged in as alice (role publisher) until ")
    token = lines[1].removeprefix("export TOLLGATE_TOKEN=")
    assert run("whoami", "-o", "json", env={"TOLLGATE_TOKEN": token}).stdout.count('"user": "alice"') == 1
    wrong = run("login", "alice", stdin="not it\n")
    assert wrong.exit_code == 4 and "invalid username or password" in wrong.stderr


def test_audit_list_and_export(api: LiveAPI, tmp_path: Path) -> None:
    assert run("secrets", "set", "openai-key", stdin="sk-audit-PLAINTEXT-0123456789").exit_code == 0
    assert run("users", "create", "bob", "--role", "viewer", "--service").exit_code == 0
    listed = run("audit", "list", "--since", "1h").stdout.splitlines()
    assert listed[0].split() == ["ID", "TIME", "ACTOR", "ACTION", "KIND", "NAME"]
    assert [line.split()[2:] for line in listed[1:]] == [
        ["env:TOLLGATE_ADMIN_TOKEN", "create", "User", "bob"],
        ["env:TOLLGATE_ADMIN_TOKEN", "create", "Secret", "openai-key"],
    ]
    page = json.loads(run("audit", "list", "--limit", "1", "-o", "json").stdout)
    assert [e["name"] for e in page["items"]] == ["bob"] and page["nextCursor"] is not None
    older = json.loads(run("audit", "list", "--limit", "1", "--cursor", page["nextCursor"], "-o", "json").stdout)
    assert [e["name"] for e in older["items"]] == ["openai-key"]
    out = tmp_path / "audit.csv"
    exported = run("audit", "export", "--format", "csv", "--kind", "Secret", "--file", str(out))
    assert exported.stdout == f"Wrote 2 line(s) to {out}\n"
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["kind"], r["name"], json.loads(r["after"])["value"]) for r in rows] == [("Secret", "openai-key", "***")]
    jsonl = run("audit", "export").stdout
    assert [json.loads(line)["name"] for line in jsonl.splitlines()] == ["bob", "openai-key"]
    assert "sk-audit-PLAINTEXT" not in jsonl
