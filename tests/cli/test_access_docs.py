"""The commands of docs/access.md run as written against a real management API, each exiting 0.

`export` lines are the fixture's environment; `<token id>` is the id of the token the guide created
just before; `printf ... | tollgate ...` feeds the printed line on stdin.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.cli.conftest import LiveAPI
from tollgate.cli import main

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "access.md"


def _commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in lines if line.strip()]


def test_the_guide_has_commands() -> None:
    assert len(_commands()) >= 15


def test_every_command_of_the_guide_runs(api: LiveAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TOLLGATE_TOKEN", raising=False)
    runner = CliRunner()
    token_id = ""
    monkeypatch.chdir(tmp_path)  # `--file audit.csv` lands here
    for line in _commands():
        if line.startswith("export "):
            continue
        stdin = None
        match = re.match(r"printf '%s\\n' '([^']*)' \| (.*)$", line)
        if match:
            stdin, line = match.group(1) + "\n", match.group(2)
        args = shlex.split(line.replace("<token id>", token_id))
        assert args[0] == "tollgate", line
        result = runner.invoke(main, args[1:], input=stdin, catch_exceptions=False)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        if args[1:3] == ["tokens", "create"]:
            token_id = result.stdout.split("(", 1)[1].split(")", 1)[0]
    assert (tmp_path / "audit.csv").read_text().startswith("id,time,actor,")
