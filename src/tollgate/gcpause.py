"""Pausing CPython's full garbage collections while a large management request builds big structures.

A 10,000-document apply holds about a million container objects (the body, the parsed documents,
the audit log's before and after documents) for up to a minute. CPython runs a full (generation 2)
collection each time long-lived objects have grown by a quarter; it traverses every tracked object
of the process while holding the GIL: 0.3-1.7 s each on the benchmark host, every few seconds, during
which the event loop (gateway traffic included) and every other request stood still: the longest
waits of other writers during a large apply were these pauses, not the database.

While at least one holder is inside `full_collections_paused()`, the oldest generation's threshold is
raised out of reach; young collections go on (they only look at new objects). When the last holder
leaves, the threshold is restored and the next full collection runs as usual, by then mostly over
freed memory (an apply's data is acyclic: reference counting frees it when the request ends). The
cost: cyclic garbage made meanwhile waits up to the apply's duration to be collected.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_OUT_OF_REACH = 1 << 30
_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def full_collections_paused() -> Iterator[None]:
    """No full collections while inside (re-entrant, thread-safe: the last one out restores them)."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(_saved[0], _saved[1], _OUT_OF_REACH)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                gc.set_threshold(*_saved)


def paused() -> bool:
    """Whether full collections are paused now (for tests and diagnostics)."""
    return _holders > 0
