"""`tollgate apply` of a large batch: it runs as a server-side job the CLI follows, printing progress,
and a failed job exits as the direct apply would. Real API on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import LiveAPI
from tests.cli.test_cli import run
from tollgate.cli import apply as apply_command


def _provider(name: str, context: str) -> dict[str, object]:
    spec = {"template": "openai", "context": context, "upstreamUrl": "http://127.0.0.1:9/v1"}
    return {"apiVersion": "tollgate.dev/v1", "kind": "LLMProvider", "metadata": {"name": name}, "spec": spec}


def _write(path: Path, docs: list[dict[str, object]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_a_large_apply_runs_as_a_job_and_prints_progress(
    api: LiveAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apply_command, "LARGE_BATCH", 100)
    result = run(
        "apply", "-f", str(_write(tmp_path / "many.yaml", [_provider(f"p{i:03d}", f"/p{i:03d}") for i in range(260)]))
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"LLMProvider p{i:03d}: created" for i in range(260)]
    lines = result.stderr.splitlines()
    assert lines[0] == "Applying 260 documents as a job (waiting up to 600 s)..."
    assert lines[-1] == "  applied 260 of 260 documents (succeeded)"
    counts = [int(line.split()[1].replace(",", "")) for line in lines[1:]]
    assert counts == sorted(counts)  # a line each time the count or the state moved, never backwards
    assert "cannot reach" not in result.output


def test_a_failed_job_exits_1_with_the_documents_errors(
    api: LiveAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apply_command, "LARGE_BATCH", 100)
    taken = run("apply", "-f", str(_write(tmp_path / "one.yaml", [_provider("other", "/p007")])))
    assert taken.exit_code == 0, taken.output
    many = [_provider(f"p{i:03d}", f"/p{i:03d}") for i in range(150)]  # p007's context is taken: a server-side 422
    result = run("apply", "-f", str(_write(tmp_path / "many.yaml", many)))
    assert result.exit_code == 1, result.output
    assert (
        "Error: LLMProvider 'p007': spec.context: '/p007' is already the context of LLMProvider 'other'"
        in result.stderr
    )
    assert [p["metadata"]["name"] for p in yaml.safe_load(run("get", "providers", "-o", "yaml").stdout)] == ["other"]
