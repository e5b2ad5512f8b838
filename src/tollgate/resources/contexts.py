"""Context shadowing: when one deployed context sits inside another on the same gateway.

Routing picks the longest matching context, so `/mockai/v1` takes every `/mockai/v1/...` request
away from `/mockai`, whose clients then meet another provider's keys (401). That is refused unless
the inner resource says `allowShadowing: true`. Pure functions; the store runs them at deploy time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Placed:
    """A provider or proxy as the shadowing check sees it: who, where, and whether it may shadow."""

    kind: str
    name: str
    context: str
    allow_shadowing: bool = False


def is_inside(inner: str, outer: str) -> bool:
    """True when `inner` is a strict segment-wise descendant of `outer` (`/a/b` inside `/a`, not `/ab`)."""
    return inner.startswith(outer + "/")


def ancestors(context: str) -> list[str]:
    """The strict segment-wise prefixes of `context`, shortest first: `/a/b/c` -> [`/a`, `/a/b`]."""
    parts = context.split("/")[1:]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def shadowing_conflict(new: Placed, others: list[Placed], gateway: str) -> str | None:
    """Why deploying `new` next to `others` on `gateway` is refused, or None when it is not.

    A pair is allowed when its inner (longer) resource has `allow_shadowing`.
    """
    for other in others:
        if (other.kind, other.name) == (new.kind, new.name):
            continue
        if is_inside(new.context, other.context):
            inner, outer = new, other
        elif is_inside(other.context, new.context):
            inner, outer = other, new
        else:
            continue
        if inner.allow_shadowing:
            continue
        return (
            f"{new.kind} {new.name!r}: spec.context {inner.context!r} of {inner.kind} {inner.name!r} is inside "
            f"{outer.context!r} of {outer.kind} {outer.name!r} on gateway {gateway!r} and would take part of its "
            f"traffic; set spec.allowShadowing: true on {inner.kind} {inner.name!r} if that is intended"
        )
    return None


def first_conflict(new: Sequence[Placed], others: Sequence[Placed], gateway: str) -> str | None:
    """The first refusal among `new` (each checked against `others` and the rest of `new`), or None.

    Indexed: each context looks up its ancestors in a dict and its descendants by bisecting a sorted
    list, so a batch of n against m live deployments costs O((n + m) log(n + m)), not O(n * m).
    """
    by_context: dict[str, list[Placed]] = {}
    for placed in [*others, *new]:
        by_context.setdefault(placed.context, []).append(placed)
    contexts = sorted(by_context)
    for placed in new:
        candidates = [p for ancestor in ancestors(placed.context) for p in by_context.get(ancestor, ())]
        prefix = placed.context + "/"
        index = bisect_left(contexts, prefix)
        while index < len(contexts) and contexts[index].startswith(prefix):
            candidates.extend(by_context[contexts[index]])
            index += 1
        refusal = shadowing_conflict(placed, candidates, gateway)
        if refusal is not None:
            return refusal
    return None
