"""A mock bring-your-own guardrail service (the `http-guardrail` policy's contract) on loopback.

It refuses text containing 'bad', sleeps `delay` seconds when the text contains 'slow', and records
what it was asked. Raw asyncio HTTP/1.1 (keep-alive, Content-Length bodies only): enough for the
gateway's client and nothing else.
"""

from __future__ import annotations

import asyncio
import json


class GuardService:
    def __init__(self, delay: float = 3.0) -> None:
        """`delay`: how long a 'slow' text takes to judge."""
        self.delay = delay
        self.seen: list[dict[str, object]] = []
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> GuardService:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/check"
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = json.loads(await reader.readexactly(length))
                self.seen.append(body)
                if "slow" in body["text"]:
                    await asyncio.sleep(self.delay)
                bad = "bad" in body["text"]
                out = json.dumps({"allowed": not bad, "assessment": "contains 'bad'" if bad else "fine"}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(out), out)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
