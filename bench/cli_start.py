"""Start-up time of the `tollgate` command: wall time of whole processes, as a user sees it.

    .venv/bin/python bench/cli_start.py [--runs 20]

Runs each command line `--runs` times (after one warm-up) and prints min / median / p90 in ms, plus
the same for `python -c pass` (the interpreter's own floor) and `python -c "import click"`.
Not a test: timings depend on the machine and its load; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _time(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True, check=True)  # warm the page cache
    samples: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return sorted(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    tollgate = shutil.which("tollgate", path=str(BIN)) or str(BIN / "tollgate")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import click'": [sys.executable, "-c", "import click"],
        "tollgate --version": [tollgate, "--version"],
        "tollgate --help": [tollgate, "--help"],
        "tollgate get --help": [tollgate, "get", "--help"],
        "tollgate apply --help": [tollgate, "apply", "--help"],
        "tollgate serve --help": [tollgate, "serve", "--help"],
    }
    print(f"{'command':<28} {'min':>7} {'median':>7} {'p90':>7}  (ms, {args.runs} runs, {os.cpu_count()} CPUs)")
    for label, argv in cases.items():
        samples = _time(argv, args.runs)
        p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
        print(f"{label:<28} {samples[0]:7.0f} {statistics.median(samples):7.0f} {p90:7.0f}")


if __name__ == "__main__":
    main()
