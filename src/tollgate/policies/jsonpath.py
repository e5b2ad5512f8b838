"""A small JSONPath subset, compiled once: `$`, `.name`, `['name']`, `[n]` (negative from the end), `[*]`, `.*`.

Enough to point a guardrail at the text of a request or response (`$.messages[*].content`,
`$.candidates[*].content.parts[*].text`). No filters, no recursion: those cost per request and the
defaults never need them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tollgate.types import JSONValue

__all__ = ["JSONPath", "JSONPathError", "texts_of"]

_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\.\*|\[(-?\d+)\]|\[\*\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")

Step = Callable[[JSONValue], list[JSONValue]]


class JSONPathError(ValueError):
    """The expression is outside the supported subset; the message says where."""


def _field(name: str) -> Step:
    def step(value: JSONValue) -> list[JSONValue]:
        if isinstance(value, dict) and name in value:
            return [value[name]]
        return []

    return step


def _index(i: int) -> Step:
    def step(value: JSONValue) -> list[JSONValue]:
        if isinstance(value, list) and -len(value) <= i < len(value):
            return [value[i]]
        return []

    return step


def _all(value: JSONValue) -> list[JSONValue]:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return list(value.values())
    return []


class JSONPath:
    """A compiled expression; `select` returns every value it reaches (missing parts reach nothing)."""

    __slots__ = ("_root", "_slots", "_steps", "expression")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        if not expression.startswith("$"):
            raise JSONPathError("must start with '$'")
        steps: list[Step] = []
        slots: list[Slots] = []
        #: the first field name, when the path starts with one: a document without it is skipped at once
        self._root: str | None = None
        pos = 1
        while pos < len(expression):
            match = _TOKEN.match(expression, pos)
            if match is None:
                raise JSONPathError(f"unsupported syntax at position {pos}: {expression[pos : pos + 12]!r}")
            name, index, quoted, dquoted = match.groups()
            text = match.group(0)
            if name is not None or quoted is not None or dquoted is not None:
                key = name if name is not None else (quoted if quoted is not None else dquoted)
                if not steps:
                    self._root = key
                steps.append(_field(key))
                slots.append(_field_slot(key))
            elif index is not None:
                steps.append(_index(int(index)))
                slots.append(_index_slot(int(index)))
            elif text in (".*", "[*]"):
                steps.append(_all)
                slots.append(_all_slots)
            pos = match.end()
        self._steps = tuple(steps)
        self._slots = tuple(slots)

    def select(self, document: JSONValue) -> list[JSONValue]:
        root = self._root
        if root is not None and (not isinstance(document, dict) or root not in document):
            return []
        values = [document]
        for step in self._steps:
            values = step(values[0]) if len(values) == 1 else [out for value in values for out in step(value)]
            if not values:
                break
        return values

    def rewrite(self, document: JSONValue, change: Callable[[str], str]) -> bool:
        """Replace, in place, every text `select` would reach (strings, and `text` of content parts) by
        `change(text)`; True when anything changed. The document's containers are modified."""
        parents = self.select_parents(document)
        changed = False
        for container, slot in parents:
            value = container[slot]  # type: ignore[index]
            if isinstance(value, str):
                new = change(value)
                if new != value:
                    container[slot] = new  # type: ignore[index]
                    changed = True
            else:
                for part_parent, part_slot in _text_slots(value):
                    old = part_parent[part_slot]  # type: ignore[index]
                    assert isinstance(old, str)
                    new = change(old)
                    if new != old:
                        part_parent[part_slot] = new  # type: ignore[index]
                        changed = True
        return changed

    def select_parents(self, document: JSONValue) -> list[tuple[JSONValue, str | int]]:
        """(container, key or index) of every value the path reaches (the root itself has none)."""
        if not self._steps:
            return []
        values: list[JSONValue] = [document]
        for step in self._steps[:-1]:
            values = [out for value in values for out in step(value)]
        last = self._slots[-1]
        out: list[tuple[JSONValue, str | int]] = []
        for value in values:
            out.extend(last(value))
        return out

    def __repr__(self) -> str:
        return f"JSONPath({self.expression!r})"


Slots = Callable[[JSONValue], list[tuple[JSONValue, "str | int"]]]


def _field_slot(name: str) -> Slots:
    def slots(value: JSONValue) -> list[tuple[JSONValue, str | int]]:
        return [(value, name)] if isinstance(value, dict) and name in value else []

    return slots


def _index_slot(i: int) -> Slots:
    def slots(value: JSONValue) -> list[tuple[JSONValue, str | int]]:
        if isinstance(value, list) and -len(value) <= i < len(value):
            return [(value, i % len(value))]
        return []

    return slots


def _all_slots(value: JSONValue) -> list[tuple[JSONValue, str | int]]:
    if isinstance(value, list):
        return [(value, i) for i in range(len(value))]
    if isinstance(value, dict):
        return [(value, k) for k in value]
    return []


def _text_slots(value: JSONValue) -> list[tuple[JSONValue, str | int]]:
    """Where the text of a content part, or of a list of parts, sits."""
    if isinstance(value, dict):
        return [(value, "text")] if isinstance(value.get("text"), str) else []
    if isinstance(value, list):
        return [slot for item in value for slot in _text_slots(item)]
    return []


def texts_of(values: list[JSONValue]) -> list[str]:
    """The text in selected values: strings as they are, content parts (`{"type": "text", "text": ...}`)
    and lists of them by their `text`; anything else (images, numbers) has none."""
    out: list[str] = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(texts_of(value))
        elif isinstance(value, dict):
            text = value.get("text")
            if isinstance(text, str):
                out.append(text)
    return out
