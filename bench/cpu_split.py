"""CPU per request of each gateway process (the event loop and the usage writer child) under wrk.

The harness (bench/run.sh) reports the whole process tree against nginx; this splits it, so a lever
can be judged by where it moves CPU. Each run: a fresh gateway on the bench config, the harness mock
on core 1, wrk on core 1 and the gateway on core 0; CPU read from /proc before and after.

    .venv/bin/python bench/cpu_split.py [--duration 8] [--connections 8] [--stream] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KEY = "tg_0123456789ab_benchmark-key-not-a-secret-0000"
TICK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]


def _settle(pids: list[int], timeout: float = 30.0) -> None:
    """Wait until the idle processes use under 5 ms of CPU per half second (startup work is done)."""
    deadline = time.monotonic() + timeout
    last = sum(_cpu(p) for p in pids)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(_cpu(p) for p in pids)
        if now - last < 0.005:
            return
        last = now


def run_once(py: str, args: argparse.Namespace, mock_port: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp())
    cfg = (HERE / "gateway.yaml").read_text().replace("127.0.0.1:18000", f"127.0.0.1:{mock_port}")
    (work / "gateway.yaml").write_text(cfg)
    port = _free_port()
    env = {**os.environ, "TOLLGATE_BENCH_KEY": KEY, **dict(kv.split("=", 1) for kv in args.env)}
    gw = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            py,
            "-m",
            "tollgate",
            "serve",
            "--role",
            "gateway",
            "--config",
            str(work / "gateway.yaml"),
            "--db",
            f"sqlite:///{work}/bench.db",
            "--port",
            str(port),
            "--admin-port",
            str(_free_port()),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        _wait_port(port)
        time.sleep(1.0)
        url = f"http://127.0.0.1:{port}/bench/v1/chat/completions"
        body = '{"model":"mock-gpt","messages":[{"role":"user","content":"hello"}]' + (
            ',"stream":true}' if args.stream else "}"
        )
        (work / "body.json").write_text(body)
        wrk = [
            "taskset",
            "-c",
            "1",
            shutil.which("wrk") or "wrk",
            "-t1",
            f"-c{args.connections}",
            "-d2s",
            "-s",
            str(ROOT / "bench/harness/wrk_chat.lua"),
            "-H",
            f"X-API-Key: {KEY}",
            url,
        ]
        wenv = {**os.environ, "WRK_BODY_FILE": str(work / "body.json")}
        subprocess.run(wrk, env=wenv, capture_output=True, check=True)  # warm up (and start the writer child)
        pids = _tree(gw.pid)
        _settle(pids)  # the writer child imports the store on start: seconds of CPU on a loaded host
        before = {p: _cpu(p) for p in pids}
        wrk[5] = f"-d{args.duration}s"
        out = subprocess.run(wrk, env=wenv, capture_output=True, text=True, check=True).stdout
        time.sleep(1.0)  # let the writer drain what the run queued
        after = {p: _cpu(p) for p in pids if Path(f"/proc/{p}").exists()}
        summary = json.loads(out.split("WRK_JSON ", 1)[1].splitlines()[0])
        n = summary["requests"]
        split = {
            ("gateway" if p == gw.pid else _cmdline(p).split(" -m ")[-1].split()[0]): (after[p] - before[p]) * 1e6 / n
            for p in after
        }
        split["requests"] = n
        split["errors"] = sum(summary["errors"].values())
        return split
    finally:
        gw.terminate()
        gw.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--env", action="append", default=[], help="K=V for the gateway (repeatable)")
    parser.add_argument("--python", default=str(ROOT / ".venv/bin/python"))
    args = parser.parse_args()
    mock_port = _free_port()
    bench_py = "/opt/bench-venv/bin/python" if Path("/opt/bench-venv/bin/python").exists() else sys.executable
    mock = subprocess.Popen(
        [
            "taskset",
            "-c",
            "1",
            bench_py,
            str(ROOT / "bench/harness/mock_llm.py"),
            "--port",
            str(mock_port),
            "--latency-ms",
            "0",
            "--stream-chunks",
            "20",
            "--chunk-delay-ms",
            "0",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_port(mock_port)
        for _ in range(args.runs):
            print(
                json.dumps(
                    {
                        k: round(v, 1) if isinstance(v, float) else v
                        for k, v in run_once(args.python, args, mock_port).items()
                    }
                )
            )
    finally:
        mock.terminate()


if __name__ == "__main__":
    main()
