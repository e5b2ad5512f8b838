"""One metered chat completion as the usage tests' starting point: each test states only what differs.

1000 prompt + 500 completion tokens of gpt-4o through the proxy `team` on provider `openai`, key
0123456789ab, status 200; the usage API, CLI, access log and metrics tests all build on it.
"""

from __future__ import annotations

from tollgate.usage.record import UsageRecord


def usage_record(*, ts: float, request_id: str, **changes: object) -> UsageRecord:
    """The shared record at `ts` with `request_id`, with `changes` (UsageRecord field names) applied."""
    base = UsageRecord(
        ts=ts,
        request_id=request_id,
        gateway="default",
        provider="openai",
        proxy="team",
        key_id="0123456789ab",
        method="POST",
        path="/team/v1/chat/completions",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        prompt_tokens=1000,
        completion_tokens=500,
        total_tokens=1500,
        status=200,
        latency_ms=120.5,
        ttfb_ms=30.25,
        is_streaming=True,
    )
    return base._replace(**changes)
