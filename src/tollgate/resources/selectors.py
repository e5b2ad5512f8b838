"""Label selectors, as kubectl writes them: `team=a,tier!=dev,owner,!legacy,env in (prod,staging)`.

A selector is parsed once into a `Selector`, which tells whether a label map matches. All terms must
hold (AND). Parsing errors raise ValueError with the offending term; nothing here touches the store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from tollgate.resources.models import LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN

_KEY = LABEL_KEY_PATTERN.strip("^$")
_VALUE = LABEL_VALUE_PATTERN.strip("^$")
_TERM = re.compile(rf"^\s*(?P<neg>!)?\s*(?P<key>{_KEY})\s*(?:(?P<op>==|!=|=)\s*(?P<value>{_VALUE})\s*)?$")
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_SPLIT = re.compile(r",(?![^(]*\))")  # commas outside parentheses


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term: `op` is "=", "!=", "exists", "!exists", "in" or "notin"."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values  # "!=" and "notin" also match a missing label


@dataclass(frozen=True, slots=True)
class Selector:
    """Parsed label selector; the empty selector matches everything."""

    requirements: tuple[Requirement, ...]
    text: str

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return all(r.matches(labels or {}) for r in self.requirements)

    def matches_metadata(self, metadata: object) -> bool:
        """Match a stored metadata object (its `labels` map, when it has one)."""
        labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
        return self.matches(labels if isinstance(labels, Mapping) else {})

    @property
    def is_empty(self) -> bool:
        return not self.requirements


def parse_selector(text: str) -> Selector:
    """Parse a selector; ValueError names the term that is not one of the forms above."""
    requirements: list[Requirement] = []
    for term in _SPLIT.split(text) if text.strip() else []:
        set_match = _SET.match(term)
        if set_match is not None:
            values = frozenset(v.strip() for v in set_match["values"].split(",") if v.strip())
            if not values or not all(re.fullmatch(_VALUE, v) for v in values):
                raise ValueError(f"label selector term {term.strip()!r}: give label values inside the parentheses")
            requirements.append(Requirement(set_match["key"], set_match["op"], values))
            continue
        match = _TERM.match(term)
        if match is None:
            raise ValueError(
                f"label selector term {term.strip()!r} is not key=value, key!=value, key, !key or key in (a,b)"
            )
        if match["neg"] and match["op"]:
            raise ValueError(f"label selector term {term.strip()!r}: '!' only goes before a bare key")
        if match["op"] is None:
            requirements.append(Requirement(match["key"], "!exists" if match["neg"] else "exists"))
        else:
            op = "!=" if match["op"] == "!=" else "="
            requirements.append(Requirement(match["key"], op, frozenset({match["value"]})))
    return Selector(tuple(requirements), text.strip())
