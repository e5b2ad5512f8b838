"""`regex-guardrail`: refuse text that matches any of the patterns (or, inverted, text that matches none).

Patterns are compiled when the policy is built, and checked when it is applied, so a bad pattern
is an apply-time error naming the field, never a 500 at request time. On streams a match cuts the
stream as soon as it is complete; only the text near the new delta is rescanned (`maxMatchLength`).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from tollgate.policies.env import BuildEnv
from tollgate.policies.guardrail import GuardParams, Guardrail

__all__ = ["NAME", "RegexGuardrailParams", "build"]

NAME = "regex-guardrail"
DESCRIPTION = "Refuse text matching any of the regular expressions (invert: require a match)."


class RegexGuardrailParams(GuardParams):
    patterns: list[str] = Field(min_length=1, max_length=100, description="Python regular expressions.")
    ignore_case: bool = Field(default=False, description="Match without regard to case.")
    max_match_length: int = Field(
        default=1024,
        ge=1,
        le=1_000_000,
        description="Longest text one match may span; on streams only this much before new text is rescanned.",
    )

    @field_validator("patterns")
    @classmethod
    def _compile(cls, value: list[str]) -> list[str]:
        for i, pattern in enumerate(value):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {i} is not a valid regular expression: {exc}") from None
        return value


class RegexRule:
    def __init__(self, params: RegexGuardrailParams) -> None:
        flags = re.IGNORECASE if params.ignore_case else 0
        self._patterns = tuple(re.compile(p, flags) for p in params.patterns)
        self._lookback = params.max_match_length

    def _search(self, text: str, start: int = 0) -> str | None:
        for i, pattern in enumerate(self._patterns):
            if pattern.search(text, start) is not None:
                return f"the text matches pattern {i} ({pattern.pattern!r})"
        return None

    def evaluate(self, text: str) -> tuple[bool, str]:
        found = self._search(text)
        return (True, "the text matches none of the patterns") if found is None else (False, found)

    def early(self, text: str, new_from: int) -> str | None:
        return self._search(text, max(0, new_from - self._lookback))


def build(params: RegexGuardrailParams, env: BuildEnv) -> Guardrail:
    return Guardrail(NAME, params, RegexRule(params))
