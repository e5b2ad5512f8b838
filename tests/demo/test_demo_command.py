"""The newcomer's journey: `tollgate demo` prints snippets; one pasted as printed streams an answer."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def test_a_printed_snippet_runs_as_pasted(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "tollgate", "demo", "--port", "0", "--admin-port", "0", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            assert line, "the demo exited early:\n" + "".join(lines)
            lines.append(line)
            if line.startswith("Stop with Ctrl+C"):
                break
        banner = "".join(lines)
        assert banner.count("# --- ") == 13
        assert len(re.findall(r"\s(tg_[0-9a-f]{12}_\S+)", banner)) >= 12  # a key per provider and proxy
        console = re.search(r"^Web console: +(http://\S+)/console  \(user demo, password (\S+)\)$", banner, re.M)
        assert console is not None, banner
        login = httpx.post(f"{console.group(1)}/api/v1/login", json={"username": "demo", "password": console.group(2)})
        assert (login.status_code, login.json()["role"]) == (200, "admin")
        first = banner.split("# --- 01.")[1].split("\n", 1)[1].split("\n# --- 02.")[0]
        script = tmp_path / "pasted.py"
        script.write_text(re.sub(r"\x1b\[[0-9;]*m", "", first))
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.strip().splitlines()[-1] == "1 2 3 4 5"
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()


def test_a_busy_port_ends_the_demo_with_one_line_naming_the_options(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["demo", "--port", str(port), "--admin-port", "0", "--dir", str(tmp_path)]
        run = subprocess.run(
            [sys.executable, "-m", "tollgate", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 1
    assert run.stderr == (
        f"Error: cannot listen on 127.0.0.1:{port} (data plane, port {port}): the port is already in use; "
        "choose other ports with --port and --admin-port (0 = any free port)\n"
    )
