"""The min/max bounds the counting guardrails (words, sentences, characters) share."""

from __future__ import annotations

from pydantic import Field, model_validator

from tollgate.policies.guardrail import GuardParams

__all__ = ["BoundsParams", "CountRule"]


class BoundsParams(GuardParams):
    min: int | None = Field(default=None, ge=0, description="Smallest accepted count.")
    max: int | None = Field(default=None, ge=0, description="Largest accepted count.")

    @model_validator(mode="after")
    def _bounds(self) -> BoundsParams:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class CountRule:
    """Accepts text whose count lies within [min, max]; on streams, passing max fails early."""

    unit = "items"

    def __init__(self, params: BoundsParams) -> None:
        self._min = params.min
        self._max = params.max

    def count(self, text: str) -> int:
        raise NotImplementedError

    def _describe(self, n: int) -> str:
        low = "" if self._min is None else f"at least {self._min}"
        high = "" if self._max is None else f"at most {self._max}"
        allowed = " and ".join(p for p in (low, high) if p)
        return f"{n} {self.unit}, allowed {allowed}"

    def evaluate(self, text: str) -> tuple[bool, str]:
        n = self.count(text)
        ok = (self._min is None or n >= self._min) and (self._max is None or n <= self._max)
        return ok, self._describe(n)

    def early(self, text: str, new_from: int) -> str | None:
        if self._max is None:
            return None
        n = self.count(text)
        return self._describe(n) if n > self._max else None
