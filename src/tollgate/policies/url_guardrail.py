"""`url-guardrail`: refuse text with URLs that do not exist (a host that does not resolve, or a HEAD
that fails), e.g. links a model made up. Invert: refuse text that contains any working URL.

Checks run on the whole text, each bounded by `timeout`, at most `maxUrls` of them, concurrently; a
check that times out counts as a failure. Requests are refused before they go upstream; a JSON answer
before it is sent (422); a stream at its end, before its final event (see `guardrail`).
"""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from tollgate.policies.env import BuildEnv
from tollgate.policies.guardrail import GuardParams, Guardrail

__all__ = ["NAME", "URLGuardrailParams", "build"]

NAME = "url-guardrail"
DESCRIPTION = "Refuse text whose URLs do not resolve (DNS) or do not answer (HEAD), with a timeout."

_URL = re.compile(r"https?://[^\s<>\"'`)\]}]+", re.IGNORECASE)


class URLGuardrailParams(GuardParams):
    check: Literal["dns", "head"] = Field(default="dns", description="Resolve the host, or send a HEAD request.")
    timeout: float = Field(default=2.0, gt=0, le=30, description="Seconds per URL check.")
    max_urls: int = Field(default=10, ge=1, le=100, description="URLs checked per text; more are ignored.")


class URLRule:
    is_async = True

    def __init__(self, params: URLGuardrailParams) -> None:
        self._check = params.check
        self._timeout = params.timeout
        self._max = params.max_urls
        self._client: httpx.AsyncClient | None = None

    async def _works(self, url: str) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                if self._check == "dns":
                    host = urlsplit(url).hostname
                    if not host:
                        return False
                    await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
                    return True
                if self._client is None:
                    self._client = httpx.AsyncClient(follow_redirects=True, timeout=self._timeout)
                response = await self._client.head(url)
                return response.status_code < 400
        except (OSError, TimeoutError, httpx.HTTPError, ValueError):
            return False

    async def evaluate_async(self, text: str) -> tuple[bool, str]:
        urls = list(dict.fromkeys(m.group(0).rstrip(".,;:!?") for m in _URL.finditer(text)))[: self._max]
        if not urls:
            return True, "the text has no URL"
        results = await asyncio.gather(*(self._works(u) for u in urls))
        broken = [u for u, ok in zip(urls, results, strict=True) if not ok]
        if broken:
            return False, f"{len(broken)} of {len(urls)} URL(s) do not work: {', '.join(broken[:3])}"
        return True, f"all {len(urls)} URL(s) work"

    def evaluate(self, text: str) -> tuple[bool, str]:
        raise NotImplementedError("network checks are asynchronous")

    def early(self, text: str, new_from: int) -> str | None:
        return None


def build(params: URLGuardrailParams, env: BuildEnv) -> Guardrail:
    return Guardrail(NAME, params, URLRule(params))
