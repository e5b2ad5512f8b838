"""`word-count-guardrail`: accept text with a number of words (whitespace-separated) within bounds."""

from __future__ import annotations

from tollgate.policies.bounds import BoundsParams, CountRule
from tollgate.policies.env import BuildEnv
from tollgate.policies.guardrail import Guardrail

__all__ = ["NAME", "WordCountParams", "build"]

NAME = "word-count-guardrail"
DESCRIPTION = "Accept text whose word count lies within min..max."


class WordCountParams(BoundsParams):
    pass


class WordCountRule(CountRule):
    unit = "words"

    def count(self, text: str) -> int:
        return len(text.split())


def build(params: WordCountParams, env: BuildEnv) -> Guardrail:
    return Guardrail(NAME, params, WordCountRule(params))
