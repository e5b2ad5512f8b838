"""FailureBackoff: exact thresholds, block lengths, doubling, windows and the memory bound, on a fake clock."""

from __future__ import annotations

import pytest

from tollgate.security.backoff import FailureBackoff, retry_after_header
from tollgate.security.fingerprint import fingerprint


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, **kw: float) -> FailureBackoff:
    opts: dict[str, float] = {"max_failures": 3, "window": 60.0, "block": 10.0, "max_block": 40.0, **kw}
    return FailureBackoff(
        max_failures=int(opts["max_failures"]),
        window=opts["window"],
        block=opts["block"],
        max_block=opts["max_block"],
        max_clients=int(opts.get("max_clients", 100)),
        clock=clock,
    )


def test_the_nth_failure_blocks_for_exactly_block_seconds() -> None:
    clock = Clock()
    backoff = make(clock)
    assert backoff.record_failure("1.2.3.4") is None
    assert backoff.record_failure("1.2.3.4") is None
    assert backoff.retry_after("1.2.3.4") is None
    assert backoff.record_failure("1.2.3.4") == 10.0
    assert backoff.retry_after("1.2.3.4") == 10.0
    assert backoff.retry_after("5.6.7.8") is None  # per client
    clock.now += 9.5
    assert backoff.retry_after("1.2.3.4") == 0.5
    clock.now += 0.5
    assert backoff.retry_after("1.2.3.4") is None


def test_repeat_blocks_double_up_to_the_cap() -> None:
    clock = Clock()
    backoff = make(clock)
    lengths = []
    for _ in range(4):
        for _ in range(2):
            assert backoff.record_failure("c") is None
        blocked = backoff.record_failure("c")
        assert blocked is not None
        lengths.append(blocked)
        clock.now += blocked
    assert lengths == [10.0, 20.0, 40.0, 40.0]


def test_failures_spread_beyond_the_window_never_block() -> None:
    clock = Clock()
    backoff = make(clock)
    for _ in range(10):
        assert backoff.record_failure("c") is None
        assert backoff.record_failure("c") is None
        clock.now += 61.0  # a new window: the count starts again


def test_memory_is_bounded_by_max_clients_and_stale_clients_go_first() -> None:
    clock = Clock()
    backoff = make(clock, max_clients=5)
    for i in range(1000):
        backoff.record_failure(f"10.0.{i // 256}.{i % 256}")
    assert len(backoff) == 5
    clock.now += 3600
    backoff.record_failure("fresh")
    assert len(backoff) == 1  # everything else was stale and forgotten


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        FailureBackoff(max_failures=0)
    with pytest.raises(ValueError):
        FailureBackoff(block=10, max_block=5)


def test_retry_after_header_rounds_up_to_whole_seconds() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(10.0) == "10"
    assert retry_after_header(10.2) == "11"


def test_fingerprint_is_short_stable_and_not_the_secret() -> None:
    assert fingerprint("tga_secret-value") == fingerprint(b"tga_secret-value")
    assert len(fingerprint("tga_secret-value")) == 8
    assert fingerprint("tga_secret-value") != fingerprint("tga_secret-valuf")
    assert "secret" not in fingerprint("tga_secret-value")
    assert fingerprint("") == "-"
    assert fingerprint("abc") == "ba7816bf"  # sha256("abc") starts so
