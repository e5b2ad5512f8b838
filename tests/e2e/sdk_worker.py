"""Runs the SDK matrix's client setups (e2e_clients.py) inside another SDK environment, one call per line.

Started by test_sdk_previous.py with the interpreter of `.venv-sdkprev` or `.venv-lcprev` (which
hold older SDK majors and not Tollgate), so the very same client code runs with the older SDKs:

    <venv>/bin/python tests/e2e/sdk_worker.py AZURE_DEPLOYMENT FOUNDRY_DEPLOYMENT PACKAGE...

It first writes one JSON line with the installed version of each PACKAGE, then answers each request
line `{"setup", "mode", "url", "key", "prompt"}` with one line: the `Result` as JSON, or
`{"error": "<type>: <message>"}`. Only the standard library and the SDKs are imported here.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from e2e_clients import setups


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _answer(line: str, by_id: dict[str, Any]) -> dict[str, Any]:
    request = json.loads(line)
    setup = by_id[request["setup"]]
    call = setup.basic if request["mode"] == "basic" else setup.stream
    try:
        return asdict(call(request["url"], request["key"], request["prompt"]))
    except Exception as exc:  # reported to the test, which fails with it
        return {"error": f"{type(exc).__module__}.{type(exc).__name__}: {exc}"}


def main(argv: list[str]) -> None:
    azure_deployment, foundry_deployment, *packages = argv
    by_id = {s.id: s for s in setups(azure_deployment, foundry_deployment)}
    out = sys.stdout
    out.write(json.dumps({p: _version(p) for p in packages}) + "\n")
    out.flush()
    for line in sys.stdin:
        if line.strip():
            out.write(json.dumps(_answer(line, by_id), default=str) + "\n")
            out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
