"""`content-length-guardrail`: accept text whose length (characters or UTF-8 bytes) lies within bounds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tollgate.policies.bounds import BoundsParams, CountRule
from tollgate.policies.env import BuildEnv
from tollgate.policies.guardrail import Guardrail

__all__ = ["NAME", "ContentLengthParams", "build"]

NAME = "content-length-guardrail"
DESCRIPTION = "Accept text whose length in characters (or bytes) lies within min..max."


class ContentLengthParams(BoundsParams):
    unit: Literal["characters", "bytes"] = Field(default="characters", description="What is counted.")


class ContentLengthRule(CountRule):
    def __init__(self, params: ContentLengthParams) -> None:
        super().__init__(params)
        self.unit = params.unit
        self._bytes = params.unit == "bytes"

    def count(self, text: str) -> int:
        return len(text.encode()) if self._bytes else len(text)


def build(params: ContentLengthParams, env: BuildEnv) -> Guardrail:
    return Guardrail(NAME, params, ContentLengthRule(params))
