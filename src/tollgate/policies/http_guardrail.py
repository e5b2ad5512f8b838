"""`http-guardrail`: bring your own guardrail, an HTTP service that judges the text.

The gateway POSTs `{"side": "request"|"response", "text": "..."}` as JSON to `url` and expects
`{"allowed": true|false, "assessment": "why"}` back within `timeout`. `mode: enforce` refuses what
the service refuses; `mode: monitor` only logs its verdict. When the service is down, slow or answers
something else, `failOpen` decides (default true: the service's outage must not stop traffic), and a
warning is logged. `timeout` bounds the whole call (connect, send, answer). Answers are judged
whole: a JSON answer before it is sent (a refusal is the 422), a stream at its end, before its final
event (a refusal ends it with the client API's in-band error event); see `guardrail`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

import httpx
from pydantic import Field, field_validator

from tollgate.policies.env import BuildEnv
from tollgate.policies.guardrail import GuardParams, Guardrail, GuardrailViolation

__all__ = ["NAME", "HTTPGuardrailParams", "build"]

NAME = "http-guardrail"
DESCRIPTION = "Ask your own HTTP service to judge the text (enforce or monitor; timeout; fail open or closed)."

log = logging.getLogger("tollgate.policies")


class HTTPGuardrailParams(GuardParams):
    url: str = Field(description="http(s) URL the text is POSTed to.")
    mode: Literal["enforce", "monitor"] = Field(default="enforce", description="Refuse, or only log the verdict.")
    timeout: float = Field(default=2.0, gt=0, le=60, description="Seconds the service may take.")
    fail_open: bool = Field(default=True, description="Let the text through when the service cannot answer.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers sent to the service.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or len(value) < 10:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value


class HTTPRule:
    """One pooled client per attachment, made on first use (so building a snapshot opens no socket)."""

    def __init__(self, params: HTTPGuardrailParams) -> None:
        self._params = params
        self._client: httpx.AsyncClient | None = None
        self.unavailable_total = 0

    async def ask(self, text: str, side: str) -> tuple[bool, str]:
        params = self._params
        if self._client is None:
            # the whole call is bounded by `timeout` below; httpx's own per-step timeouts only back it up
            self._client = httpx.AsyncClient(timeout=params.timeout + 1.0, headers=params.headers)
        try:
            async with asyncio.timeout(params.timeout):
                response = await self._client.post(params.url, json={"side": side, "text": text})
            verdict = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, TimeoutError) as exc:
            verdict = None
            reason = type(exc).__name__
        else:
            reason = f"status {response.status_code}"
        if not isinstance(verdict, dict) or not isinstance(verdict.get("allowed"), bool):
            self.unavailable_total += 1
            log.warning(
                "http-guardrail %s: no verdict (%s); failing %s",
                params.url.split("?")[0],
                reason,
                "open" if params.fail_open else "closed",
            )
            if params.fail_open:
                return True, "the guardrail service did not answer (failed open)"
            return False, "the guardrail service did not answer"
        assessment = str(verdict.get("assessment") or ("allowed" if verdict["allowed"] else "refused"))[:500]
        if params.mode == "monitor":
            if not verdict["allowed"]:
                log.info("http-guardrail %s (monitor): would refuse: %s", params.url.split("?")[0], assessment)
            return True, assessment
        return bool(verdict["allowed"]), f"the guardrail service says: {assessment}"


class HTTPGuardrail(Guardrail):
    """Tells the service which side it judges (the pure rules need not know)."""

    def __init__(self, params: HTTPGuardrailParams) -> None:
        self.service = HTTPRule(params)
        super().__init__(NAME, params, _ServiceRule(self.service))

    async def assess(self, text: str, side: str) -> GuardrailViolation | None:
        ok, detail = await self.service.ask(text, side)
        if ok != self.params.invert:
            return None
        return self.violation(side, detail)


class _ServiceRule:
    """The service is asked about whole texts only (through `assess`), never about stream prefixes."""

    is_async = True

    def __init__(self, service: HTTPRule) -> None:
        self._service = service

    async def evaluate_async(self, text: str) -> tuple[bool, str]:
        return await self._service.ask(text, "response")

    def evaluate(self, text: str) -> tuple[bool, str]:
        raise NotImplementedError("the service is asked asynchronously")

    def early(self, text: str, new_from: int) -> str | None:
        return None


def build(params: HTTPGuardrailParams, env: BuildEnv) -> Guardrail:
    return HTTPGuardrail(params)
