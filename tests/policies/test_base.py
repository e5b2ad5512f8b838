"""Tests for policies/base.py: a chain keeps only overridden hooks; request phases in order, response ones reversed."""

from __future__ import annotations

from tollgate.errors import GatewayError, RateLimitedError
from tollgate.gateway.exchange import Exchange
from tollgate.gateway.targets import Target
from tollgate.policies.base import EMPTY_CHAIN, ChunkTap, Policy, PolicyChain


class Headers(Policy):
    name = "headers"

    def __init__(self, log: list[str], tag: str) -> None:
        self.log = log
        self.tag = tag

    async def on_request_headers(self, ex: Exchange) -> GatewayError | None:
        self.log.append(f"req:{self.tag}")
        return None

    def on_response_headers(self, ex: Exchange) -> GatewayError | None:
        self.log.append(f"resp:{self.tag}")
        return None


class Body(Policy):
    name = "body"
    needs_request_body = True
    retry_statuses = frozenset({429})

    async def on_request_body(self, ex: Exchange) -> GatewayError | None:
        return RateLimitedError("slow down", retry_after=1)


class Picker(Policy):
    name = "picker"

    def pick_target(self, ex: Exchange, candidates: tuple[Target, ...]) -> Target | None:
        return candidates[-1] if candidates else None


class Buffering(Policy):
    name = "buffering"

    def on_response_complete(self, ex: Exchange, body: bytes) -> bytes | GatewayError:
        return body.upper()


class Reader(Policy):
    name = "reader"

    def stream_tap(self, ex: Exchange) -> ChunkTap | None:
        return None


def test_the_empty_chain_has_nothing_in_any_phase() -> None:
    assert PolicyChain.compile(()) is EMPTY_CHAIN
    assert EMPTY_CHAIN.is_empty and EMPTY_CHAIN.pick_target is None and not EMPTY_CHAIN.needs_request_body
    for phase in (
        EMPTY_CHAIN.request_headers,
        EMPTY_CHAIN.request_body,
        EMPTY_CHAIN.response_headers,
        EMPTY_CHAIN.stream_taps,
        EMPTY_CHAIN.stream_filters,
        EMPTY_CHAIN.response_complete,
        EMPTY_CHAIN.completion,
    ):
        assert phase == ()


async def test_only_overridden_hooks_are_compiled_in_the_documented_order() -> None:
    log: list[str] = []
    first, second, body = Headers(log, "a"), Headers(log, "b"), Body()
    chain = PolicyChain.compile((first, second, body, Reader()))
    assert len(chain.request_headers) == 2 and len(chain.response_headers) == 2
    assert len(chain.request_body) == 1 and len(chain.stream_taps) == 1
    assert chain.completion == () and chain.stream_filters == () and chain.pick_target is None
    ex = Exchange("r1", 0.0, "POST", "/p/v1/chat/completions", "", [], "127.0.0.1")
    for hook in chain.request_headers:
        assert await hook(ex) is None
    for check in chain.response_headers:
        assert check(ex) is None
    assert log == ["req:a", "req:b", "resp:b", "resp:a"]  # request phases in order, response phases reversed
    verdict = await chain.request_body[0](ex)
    assert isinstance(verdict, RateLimitedError) and verdict.retry_after == 1
    assert chain.needs_request_body and chain.retry_statuses == frozenset({429})


def test_the_first_picker_wins_and_buffering_is_opt_in() -> None:
    picker = Picker()
    chain = PolicyChain.compile((picker, Picker(), Buffering()))
    assert chain.pick_target is not None and chain.pick_target.__self__ is picker  # type: ignore[attr-defined]
    assert len(chain.response_complete) == 0  # overriding the hook is not enough: buffers_response opts in

    class Opted(Buffering):
        buffers_response = True

    assert len(PolicyChain.compile((Opted(),)).response_complete) == 1


async def test_awaiting_policies_make_the_whole_response_phase_awaited_and_others_stay_sync() -> None:
    class Upper(Buffering):
        buffers_response = True

    class Checked(Policy):
        name = "checked"
        buffers_response = True

        def __init__(self) -> None:
            self.awaits_response = True

        def on_response_complete(self, ex: Exchange, body: bytes) -> bytes | GatewayError:
            raise AssertionError("an awaiting chain calls the async hook")

        async def on_response_complete_async(self, ex: Exchange, body: bytes) -> bytes | GatewayError:
            return body + b"!"

        def stream_filter(self, ex: Exchange) -> None:
            return None

    sync_only = PolicyChain.compile((Upper(),))
    assert len(sync_only.response_complete) == 1 and sync_only.response_complete_async == ()
    assert not sync_only.awaits_stream_end
    mixed = PolicyChain.compile((Upper(), Checked()))  # request order: response hooks run in reverse
    assert mixed.response_complete == () and len(mixed.response_complete_async) == 2
    assert mixed.awaits_stream_end
    ex = Exchange("r1", 0.0, "POST", "/p", "", [], "127.0.0.1")
    body = b"ok"
    for hook in mixed.response_complete_async:
        outcome = await hook(ex, body)
        assert isinstance(outcome, bytes)
        body = outcome
    assert body == b"OK!"  # Checked ran first (b"ok!"), then Upper's sync hook, awaited
