"""Alternative measured for the data plane: uvicorn (httptools parser, uvloop) + raw ASGI + a pooled
httpx.AsyncClient, relaying POST /{ctx}/v1/chat/completions like bench/examples/py_passthrough.py.

No auth, no metering: the floor of that server/client pair, to compare with Tollgate's own
httptools protocols in one harness run (docs/benchmarks.md).

  python bench/alternatives/uvicorn_httpx.py --port 18795 --upstream http://127.0.0.1:18000/v1
"""

from __future__ import annotations

import argparse
from typing import Any

import httpx
import uvicorn

HOP = {b"host", b"content-length", b"connection", b"x-api-key", b"transfer-encoding"}


def build_app(upstream: str) -> Any:
    client = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=256), timeout=600)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP]
        request = client.build_request("POST", upstream + "/chat/completions", headers=headers, content=body)
        response = await client.send(request, stream=True)
        drop = ("content-length", "transfer-encoding", "connection")
        out = [(k.encode(), v.encode()) for k, v in response.headers.items() if k.lower() not in drop]
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await response.aclose()
        await send({"type": "http.response.body", "body": b""})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=18795)
    parser.add_argument("--upstream", default="http://127.0.0.1:18000/v1")
    args = parser.parse_args()
    uvicorn.run(
        build_app(args.upstream.rstrip("/")),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
