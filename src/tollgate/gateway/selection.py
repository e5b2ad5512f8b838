"""Selection strategies: the order in which one request tries a route's targets.

Each strategy is compiled once per snapshot from the proxy's `routing` block into a `Selector`
whose `order` returns a prebuilt tuple (ordered, round robin, weighted, header, model: one dict
lookup) or sorts a handful of targets (lowest latency, hash). The first target of the order serves
when it is up; the failover loop (`gateway/failover.py`) walks on from there. Rotation positions live in the proxy's
`RoutingCounters` (per node, kept across snapshots). No selector waits, logs or touches the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping, Sequence
from functools import reduce
from math import gcd
from typing import TYPE_CHECKING, Protocol

from tollgate.errors import BadRequestError
from tollgate.gateway.targets import Target
from tollgate.providers.model_map import RoutedModelTranslator
from tollgate.resources.routing import RoutingSpec

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange
    from tollgate.gateway.failover import RoutingCounters

__all__ = ["Selector", "build_selector", "smooth_weighted_schedule"]

_MASK64 = (1 << 64) - 1


class Selector(Protocol):
    """Orders a route's targets for one request; `observes_latency` asks the relay for TTFB samples."""

    observes_latency: bool

    def order(self, ex: Exchange, now: float) -> tuple[Target, ...]: ...


class Ordered:
    """The provider, then its fallbacks, as declared."""

    observes_latency = False

    def __init__(self, targets: tuple[Target, ...]) -> None:
        self._order = targets

    def order(self, ex: Exchange, now: float) -> tuple[Target, ...]:
        return self._order


class Rotation:
    """A cyclic schedule of prebuilt orders: round robin (each target first in turn) and weighted round
    robin (each target first as often as its weight, interleaved). One position per proxy and node,
    kept across snapshots (`RoutingCounters`)."""

    observes_latency = False

    def __init__(self, orders: tuple[tuple[Target, ...], ...], counters: RoutingCounters) -> None:
        self._orders = orders
        self._counters = counters

    def order(self, ex: Exchange, now: float) -> tuple[Target, ...]:
        counters = self._counters
        index = counters.rotation % len(self._orders)  # the schedule may have changed with the snapshot
        counters.rotation = index + 1
        return self._orders[index]


class LowestLatency:
    """The target with the lowest moving average of time to first byte first (never measured: 0, so
    each is tried once; unused ones decay towards 0, so a target that was slow once is tried again)."""

    observes_latency = True

    def __init__(self, targets: tuple[Target, ...], decay: float) -> None:
        self._targets = targets
        self.decay = decay

    def order(self, ex: Exchange, now: float) -> tuple[Target, ...]:
        decay = self.decay
        return tuple(sorted(self._targets, key=lambda t: t.health.latency(now, decay)))


class ByHeader:
    """The target a request header names (by provider name) first; without the header, the declared
    order. A value that names no provider of the route is refused (400), not routed at random."""

    observes_latency = False

    def __init__(self, targets: tuple[Target, ...], header: str, aliases: Mapping[str, str]) -> None:
        self._name = header.encode()
        self._header = header
        self._default = targets
        self._by_value = {t.name: (t, *(o for o in targets if o is not t)) for t in targets}
        for alias, name in aliases.items():
            if name in self._by_value:
                self._by_value[alias] = self._by_value[name]

    def order(self, ex: Exchange, now: float) -> tuple[Target, ...]:
        value = _header(ex, self._name)
        if value is None:
            return self._default
        found = self._by_value.get(value.strip().lower())
        if found is None:
            names = ", ".join(self._by_value)
            raise BadRequestError(f"Header {self._header!r} must name one of this API's providers: {names}.")
        return found


class ByModel:
    """By the model the client asks for: a name of `models` (e.g. the alias `fast`) goes to its
    providers in their order, each sent the model configured for it; `provider/model` (a provider's
    name or alias, then the model) goes to that provider with the prefix taken off; any other model
    goes to the declared order, as asked. Targets here are the route's, with a translator that
    rewrites the model (built at compile, sharing the provider's health)."""

    observes_latency = False

    def __init__(
        self,
        targets: tuple[Target, ...],
        by_model: dict[str, tuple[Target, ...]],
        by_prefix: dict[str, tuple[Target, ...]],
    ) -> None:
        self._default = targets
        self._by_model = by_model
        self._by_prefix = by_prefix

    def order(self, ex: Exchange, now: float) -> tuple[Target, ...]:
        model = ex.facts.model
        if model is None:
            return self._default
        found = self._by_model.get(model)
        if found is not None:
            return found
        slash = model.find("/")
        if slash > 0:
            found = self._by_prefix.get(model[:slash])
            if found is not None:
                return found
        return self._default


class StickyHash:
    """Rendezvous (highest random weight) hashing of a header's value, else of the API key id (else
    the client address): one user always lands on the same target, and when it is out, on the next
    one in its own hash order; adding or removing a target moves only the users whose first choice it
    is. The value is hashed once (blake2b, the same on every node and release), then mixed with each
    target's seed (splitmix64's finalizer), so a request costs one hash, not one per target."""

    observes_latency = False

    def __init__(self, targets: tuple[Target, ...], header: str | None) -> None:
        self._name = header.encode() if header is not None else None
        self._seeded = tuple((int.from_bytes(hashlib.sha256(t.name.encode()).digest()[:8]), t) for t in targets)

    def order(self, ex: Exchange, now: float) -> tuple[Target, ...]:
        value = _header(ex, self._name) if self._name is not None else None
        key = (value if value is not None else ex.key_id or ex.client_ip).encode()
        point = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest())
        scored = sorted(self._seeded, key=lambda st: _mix64(point ^ st[0]), reverse=True)
        return tuple(t for _, t in scored)


def _mix64(x: int) -> int:
    """Splitmix64's finalizer: a bijection of 64-bit integers that spreads every input bit."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _header(ex: Exchange, name: bytes) -> str | None:
    for key, value in ex.headers:
        if key == name:
            return value.decode("latin-1")
    return None


def smooth_weighted_schedule(weights: Sequence[int]) -> list[int]:
    """Nginx's smooth weighted round robin over one period: indexes of `weights`, each appearing
    weight/gcd times, spread out (3:1 gives 0 0 1 0, not 0 0 0 1). Weights of 0 never appear."""
    positive = [w for w in weights if w > 0]
    divisor = reduce(gcd, positive)
    scaled = [w // divisor for w in weights]
    total = sum(scaled)
    current = [0] * len(scaled)
    schedule: list[int] = []
    for _ in range(total):
        for i, weight in enumerate(scaled):
            current[i] += weight
        best = max(range(len(scaled)), key=lambda i: (current[i], -i))
        current[best] -= total
        schedule.append(best)
    return schedule


def _rotation_orders(targets: tuple[Target, ...], schedule: list[int]) -> tuple[tuple[Target, ...], ...]:
    """For each slot of the schedule: the distinct targets in the order the schedule reaches them from
    there (so a suspended first choice hands its turn to the next one in the schedule), then the
    targets the schedule never names (weight 0: failover only), in declared order."""
    size = len(schedule)
    named = sorted(set(schedule))
    rest = tuple(targets[i] for i in range(len(targets)) if i not in set(named))
    # distance[i][slot]: steps from `slot` to the next occurrence of target i (two backward passes)
    distance = {i: [0] * size for i in named}
    for i in named:
        row, gap = distance[i], size
        for slot in range(2 * size - 1, -1, -1):
            gap = 0 if schedule[slot % size] == i else gap + 1
            if slot < size:
                row[slot] = gap
    return tuple((*(targets[i] for i in sorted(named, key=lambda i: distance[i][slot])), *rest) for slot in range(size))


def build_selector(spec: RoutingSpec | None, targets: tuple[Target, ...], counters: RoutingCounters) -> Selector:
    """The compiled strategy of `spec` over `targets` (the provider first, then the fallbacks)."""
    if spec is None or spec.strategy == "ordered":
        return Ordered(targets)
    if spec.strategy == "round-robin":
        return Rotation(_rotation_orders(targets, list(range(len(targets)))), counters)
    if spec.strategy == "weighted":
        weights = [spec.weights.get(t.name, 1) for t in targets]
        if not any(weights):  # every weighted target was left out (not deployed): spread evenly
            weights = [1] * len(targets)
        return Rotation(_rotation_orders(targets, smooth_weighted_schedule(weights)), counters)
    if spec.strategy == "lowest-latency":
        return LowestLatency(targets, spec.decay)
    if spec.strategy == "header":
        assert spec.header is not None  # RoutingSpec requires it
        return ByHeader(targets, spec.header, spec.aliases)
    if spec.strategy == "model":
        return _by_model(targets, spec)
    return StickyHash(targets, spec.header)


def _by_model(targets: tuple[Target, ...], spec: RoutingSpec) -> ByModel:
    """Compile the model table: per requested model, its targets with their model rewrites; per
    provider name and alias, the target that strips `name/` from the model."""
    by_name = {t.name: t for t in targets}
    for alias, name in spec.aliases.items():
        if name in by_name:
            by_name[alias] = by_name[name]
    by_model: dict[str, tuple[Target, ...]] = {}
    for model, routes in spec.models.items():
        chosen: list[Target] = []
        for route in routes:
            target = by_name.get(route.provider)
            if target is None:  # not deployed: left out of this model's order (logged by the snapshot)
                continue
            if route.model is not None and route.model != model:
                rewrite = {model: route.model}.get
                target = dataclasses.replace(target, translator=RoutedModelTranslator(target.translator, rewrite))
            chosen.append(target)
        if chosen:
            by_model[model] = tuple(chosen)
    by_prefix: dict[str, tuple[Target, ...]] = {}
    for prefix, target in by_name.items():
        by_prefix[prefix] = (
            dataclasses.replace(target, translator=RoutedModelTranslator(target.translator, _strip(prefix + "/"))),
        )
    return ByModel(targets, by_model, by_prefix)


def _strip(prefix: str) -> Callable[[str], str | None]:
    size = len(prefix)

    def rewrite(model: str) -> str | None:
        return model[size:] if model.startswith(prefix) and len(model) > size else None

    return rewrite
