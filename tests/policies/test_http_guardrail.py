"""The bring-your-own HTTP guardrail against a real loopback service: verdicts, monitor mode,
a slow service and a service that is down, failing open and closed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from tests.policies.conftest import free_port
from tollgate.mock.guard_service import GuardService
from tollgate.policies.env import BuildEnv
from tollgate.policies.http_guardrail import HTTPGuardrail, HTTPGuardrailParams, build

ENV = BuildEnv("LLMProxy/p#0")


@pytest.fixture
async def service() -> AsyncIterator[GuardService]:
    svc = await GuardService().start()
    yield svc
    await svc.stop()


def _guard(url: str, **params: object) -> HTTPGuardrail:
    guard = build(HTTPGuardrailParams.model_validate({"url": url, **params}), ENV)
    assert isinstance(guard, HTTPGuardrail)
    return guard


async def test_enforce(service: GuardService) -> None:
    guard = _guard(service.url, side="both")
    assert await guard.assess("all good", "request") is None
    violation = await guard.assess("a bad idea", "response")
    assert violation is not None and violation.status == 422
    assert violation.message == (
        "Blocked by guardrail 'http-guardrail' on the response: the guardrail service says: contains 'bad'."
    )
    assert service.seen == [{"side": "request", "text": "all good"}, {"side": "response", "text": "a bad idea"}]


async def test_monitor_only_logs(service: GuardService, caplog: pytest.LogCaptureFixture) -> None:
    guard = _guard(service.url, mode="monitor")
    with caplog.at_level(logging.INFO, logger="tollgate.policies"):
        assert await guard.assess("bad", "request") is None
    assert "would refuse: contains 'bad'" in caplog.text


async def test_slow_service_fails_open_or_closed(service: GuardService, caplog: pytest.LogCaptureFixture) -> None:
    open_guard = _guard(service.url, timeout=0.2)
    with caplog.at_level(logging.WARNING, logger="tollgate.policies"):
        assert await open_guard.assess("slow but bad", "request") is None
    assert "no verdict (TimeoutError); failing open" in caplog.text
    assert open_guard.service.unavailable_total == 1
    closed = _guard(service.url, timeout=0.2, failOpen=False)
    violation = await closed.assess("slow", "request")
    assert violation is not None and violation.message.endswith("the guardrail service did not answer.")


async def test_service_down() -> None:
    url = f"http://127.0.0.1:{free_port()}/check"
    assert await _guard(url).assess("x", "request") is None
    assert await _guard(url, failOpen=False).assess("x", "request") is not None


async def test_stream_asks_once_at_the_end(service: GuardService) -> None:
    guard = _guard(service.url, side="response")
    sg = guard.stream_guard("openai")
    assert sg.feed(b'data: {"choices":[{"delta":{"content":"so "}}]}\n\n') is None
    assert sg.feed(b'data: {"choices":[{"delta":{"content":"bad"}}]}\n\ndata: [DONE]\n\n') is None
    assert service.seen == []
    violation = await sg.finish()
    assert violation is not None
    assert service.seen == [{"side": "response", "text": "so bad"}]


def test_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="url"):
        HTTPGuardrailParams.model_validate({"url": "ftp://x"})
