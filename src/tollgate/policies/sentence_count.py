"""`sentence-count-guardrail`: accept text with a number of sentences within bounds.

A sentence ends at `.`, `!` or `?` (runs count once) followed by whitespace or the end; trailing
text without a final stop counts as one more sentence. Abbreviations ("e.g. this") count as ends:
the rule is a cheap heuristic, not a parser.
"""

from __future__ import annotations

import re

from tollgate.policies.bounds import BoundsParams, CountRule
from tollgate.policies.env import BuildEnv
from tollgate.policies.guardrail import Guardrail

__all__ = ["NAME", "SentenceCountParams", "build"]

NAME = "sentence-count-guardrail"
DESCRIPTION = "Accept text whose sentence count lies within min..max."

_END = re.compile("[.!?]+(?=\\s|$)|[\u3002\uff01\uff1f]+")


class SentenceCountParams(BoundsParams):
    pass


class SentenceCountRule(CountRule):
    unit = "sentences"

    def count(self, text: str) -> int:
        stripped = text.strip()
        if not stripped:
            return 0
        ends = list(_END.finditer(stripped))
        tail = stripped[ends[-1].end() :].strip() if ends else stripped
        return len(ends) + (1 if tail else 0)


def build(params: SentenceCountParams, env: BuildEnv) -> Guardrail:
    return Guardrail(NAME, params, SentenceCountRule(params))
