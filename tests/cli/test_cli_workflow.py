"""The team workflow through the CLI: diff in CI, apply with prune, edit with $EDITOR, keys and gateways."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.cli.conftest import LiveAPI
from tollgate.cli import main

TEAM = """
apiVersion: tollgate.dev/v1
kind: LLMProvider
metadata: {{name: {name}, labels: {{team: search}}}}
spec: {{template: openai, context: /{name}, upstreamUrl: "http://127.0.0.1:9/v1", models: [{model}]}}
"""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def write(folder: Path, **models: str) -> Path:
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for name, model in models.items():
        (folder / f"{name}.yaml").write_text(TEAM.format(name=name, model=model))
    return folder


def test_diff_then_apply_with_prune(api: LiveAPI, tmp_path: Path) -> None:
    conf = write(tmp_path / "conf", alpha="gpt-4o", beta="gpt-4o", gamma="gpt-4o")
    first = run("diff", "-f", str(conf), "--exit-code")
    assert first.exit_code == 1 and "+++ applied/LLMProvider/alpha" in first.stdout and "--- /dev/null" in first.stdout
    assert run("apply", "-f", str(conf), "--dry-run").stdout.splitlines()[0] == "LLMProvider alpha: created (dry run)"
    assert run("get", "providers", "-o", "json").stdout.strip() == "[]"
    assert run("apply", "-f", str(conf)).exit_code == 0
    assert run("diff", "-f", str(conf), "--exit-code").stdout == ""
    write(conf, alpha="gpt-4.1", beta="gpt-4o")
    changed = run("diff", "-f", str(conf), "--prune", "-l", "team=search")
    lines = changed.stdout.splitlines()
    assert "--- live/LLMProvider/alpha" in lines and "+++ applied/LLMProvider/alpha" in lines
    assert "-  - gpt-4o" in lines and "+  - gpt-4.1" in lines
    assert "--- live/LLMProvider/gamma" in lines and "+++ /dev/null" in lines
    assert not any("beta" in line for line in lines)
    assert run("apply", "-f", str(conf), "--prune").exit_code == 2  # prune needs a selector
    applied = run("apply", "-f", str(conf), "--prune", "-l", "team=search")
    assert applied.stdout.splitlines() == [
        "LLMProvider alpha: changed",
        "LLMProvider beta: unchanged",
        "LLMProvider gamma: deleted",
    ]
    assert [
        p["metadata"]["name"] for p in json.loads(run("get", "providers", "-l", "team=search", "-o", "json").stdout)
    ] == [
        "alpha",
        "beta",
    ]


@pytest.fixture
def editor(tmp_path: Path) -> str:
    """An $EDITOR that replaces gpt-4o by gpt-4.1 in the file it is given."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\np.write_text(p.read_text().replace('gpt-4o', 'gpt-4.1'))\n"
    )
    return f"{sys.executable} {script}"


def test_edit_writes_back_over_the_version_it_read(api: LiveAPI, tmp_path: Path, editor: str) -> None:
    run("apply", "-f", str(write(tmp_path / "conf", alpha="gpt-4o")))
    edited = run("edit", "provider", "alpha", env={"EDITOR": editor})
    assert edited.exit_code == 0, edited.output
    assert edited.stdout.startswith("LLMProvider alpha: changed (resourceVersion ")
    doc = yaml.safe_load(run("get", "provider", "alpha", "-o", "yaml").stdout)
    assert doc["spec"]["models"] == ["gpt-4.1"]
    unchanged = run("edit", "provider", "alpha", env={"EDITOR": editor})  # nothing left to replace
    assert unchanged.stdout.strip() == "Edit cancelled: no changes made."


def test_edit_refuses_when_someone_changed_it_meanwhile(api: LiveAPI, tmp_path: Path) -> None:
    conf = write(tmp_path / "conf", alpha="gpt-4o")
    run("apply", "-f", str(conf))
    racer = tmp_path / "racer.py"  # an "editor" during whose session someone else applies a change
    command = [str(Path(sys.executable).parent / "tollgate"), "apply", "-f", str(tmp_path / "other")]
    racer.write_text(
        "import sys, pathlib, subprocess\n"
        f"subprocess.run({command!r}, check=True, capture_output=True)\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('gpt-4o', 'mine'))\n"
    )
    write(tmp_path / "other", alpha="theirs")
    result = CliRunner().invoke(main, ["edit", "provider", "alpha"], env={"EDITOR": f"{sys.executable} {racer}"})
    assert result.exit_code == 1, result.output
    assert "changed by someone else" in result.stderr and "Your edit is kept in" in result.stderr
    kept = Path(result.stderr.split("Your edit is kept in ")[1].split(":")[0])
    assert "mine" in kept.read_text()
    kept.unlink()
    doc = yaml.safe_load(run("get", "provider", "alpha", "-o", "yaml").stdout)
    assert doc["spec"]["models"] == ["theirs"]


def test_keys_update_regenerate_delete_and_gateway_delete(api: LiveAPI, tmp_path: Path) -> None:
    run("apply", "-f", str(write(tmp_path / "conf", alpha="gpt-4o")))
    key = json.loads(
        run("keys", "create", "provider", "alpha", "--name", "app", "--meta", "team=s", "-o", "json").stdout
    )
    updated = json.loads(
        run("keys", "update", key["id"], "--name", "app2", "--expires-at", "2099-01-01", "-o", "json").stdout
    )
    assert (updated["name"], updated["expiresAt"][:10], updated["metadata"]) == ("app2", "2099-01-01", {"team": "s"})
    regenerated = run("keys", "regenerate", key["value"])
    assert regenerated.exit_code == 0 and "the old value no longer works" in regenerated.stdout
    new_value = regenerated.stdout.split("(shown once, store it now): ")[1].strip()
    assert new_value.startswith(f"tg_{key['id']}_") and new_value != key["value"]
    assert run("keys", "delete", key["id"]).stdout.strip() == f"API key {key['id']}: deleted"
    assert json.loads(run("keys", "list", "-o", "json").stdout) == []
    assert run("deploy", "provider", "alpha", "-g", "edge", "--create-gateway").exit_code == 0
    refused = run("delete", "gateway", "edge")
    assert refused.exit_code == 1 and "still serves 1 deployment(s)" in refused.stderr
    forced = run("delete", "gateway", "edge", "--force")
    assert forced.stdout.splitlines() == ["LLMProvider alpha: undeployed from edge", "gateway edge: deleted"]


def test_keys_create_and_update_with_limits(api: LiveAPI, tmp_path: Path) -> None:
    run("apply", "-f", str(write(tmp_path / "conf", alpha="gpt-4o")))
    created = run(
        "keys", "create", "provider", "alpha", "--name", "team-a",
        "--limit", "requests=60/minute", "--limit", "tokens=10000/1h", "--limit", "completion-tokens=500/minute",
        "--limit", "cost=2.5/day", "--model", "gpt-4o-mini", "-o", "json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    assert key["limits"] == {
        "requests": [{"requests": 60, "per": 60}],
        "tokens": [{"tokens": 10000, "per": 3600, "count": "total"}, {"tokens": 500, "per": 60, "count": "completion"}],
        "cost": [{"usd": 2.5, "per": 86400}],
        "models": ["gpt-4o-mini"],
    }
    bad = run("keys", "update", key["id"], "--limit", "requests=5/fortnight")
    assert bad.exit_code != 0 and "limits.requests.0.per" in bad.stderr and "is not a duration" in bad.stderr
    malformed = run("keys", "update", key["id"], "--limit", "rpm=5")
    assert malformed.exit_code == 2 and "is not WHAT=AMOUNT/PER" in malformed.stderr
    updated = json.loads(run("keys", "update", key["id"], "--model", "gpt-4o*", "-o", "json").stdout)
    assert updated["limits"] == {"requests": [], "tokens": [], "cost": [], "models": ["gpt-4o*"]}
    cleared = json.loads(run("keys", "update", key["id"], "--no-limits", "-o", "json").stdout)
    assert cleared["limits"] is None and cleared["name"] == "team-a"
