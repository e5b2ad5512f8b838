"""The price table: list prices per model (input, output, cached input, per million tokens) and `cost()`.

One table for the whole product (usage analytics and the cost limits of the policies). It ships as
`prices.json` beside this module, dated by its `asOf`; a deployment overrides or extends it with a
file named by env TOLLGATE_PRICES (same shape, JSON or YAML). Pure data and arithmetic: no store,
no network, nothing per request that could be done when the table is loaded.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from tollgate.errors import ResourceValidationError

logger = logging.getLogger(__name__)

#: Env var naming a deployment's price file, laid over the shipped table model by model.
PRICES_ENV = "TOLLGATE_PRICES"
#: Prices are quoted per this many tokens.
TOKENS_PER_PRICE_UNIT = 1_000_000
#: Distinct model names whose lookup is remembered (hit or miss), and unknown names warned about:
#: model names come from clients, so both sets are bounded; past the bound, lookups are recomputed.
MAX_REMEMBERED_MODELS = 4096
MAX_WARNED_MODELS = 256

# Normalisation of a model name, tried in order until the table knows the name:
#   vendor prefixes      models/gemini-2.5-flash, openai/gpt-4o, anthropic.claude-3-haiku-...
#   version suffixes     gpt-4o-2024-08-06, claude-3-5-sonnet-20241022, claude-...@20241022, gpt-4-0613,
#                        mistral-large-2411, gemini-1.5-flash-002, mistral-small-latest, ...-v2:0
_PREFIX = re.compile(r"^(?:[a-z0-9_.-]+/)+|^(?:anthropic|amazon|meta|mistral|cohere|google)\.")
_SUFFIX = re.compile(
    r"(?:-\d{4}-\d{2}-\d{2}|[-@]\d{8}|-\d{4}|-\d{3}|-latest|-v\d+(?::\d+)?|:\d+|-preview(?:-\d{2}-\d{2})?|-exp)$"
)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices of one model in the table's currency per million tokens.

    `prompt` tokens include the `cached` ones (the OpenAI convention; Tollgate's Anthropic reader adds
    cache reads and writes to the prompt the same way), so cached tokens are charged `cached_input`
    instead of `input`. A model without a cached price charges them `input`.
    """

    input: float
    output: float
    cached_input: float | None = None

    def cost(self, prompt: int | None, completion: int | None, cached: int | None = None) -> float:
        """The cost of one request; None counts as 0 and cached is capped at prompt."""
        prompt_tokens = prompt or 0
        cached_tokens = min(cached or 0, prompt_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        total = (
            (prompt_tokens - cached_tokens) * self.input
            + cached_tokens * cached_price
            + (completion or 0) * self.output
        )
        return total / TOKENS_PER_PRICE_UNIT


class _PriceDoc(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    input: float = Field(ge=0, description="Per million prompt tokens not read from a cache.")
    output: float = Field(ge=0, description="Per million completion tokens.")
    cached_input: float | None = Field(default=None, ge=0, description="Per million prompt tokens read from cache.")


class _TableDoc(BaseModel):
    """The file's shape: the shipped `prices.json` and a deployment's override alike."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    as_of: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="Date the prices are from.")
    currency: str = "USD"
    unit: str | None = None
    note: str | None = None
    sources: dict[str, str] = Field(default_factory=dict)
    models: dict[str, _PriceDoc] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)


class PriceTable:
    """An immutable price table with a name lookup that forgives dates and vendor prefixes.

    Shared by everything in a process; `cost` is safe on the request path (a dict hit after the
    first lookup of a name) and never raises: an unknown model costs 0.0 and is warned about once.
    """

    def __init__(
        self,
        prices: Mapping[str, ModelPrice],
        *,
        aliases: Mapping[str, str] | None = None,
        as_of: str | None = None,
        currency: str = "USD",
    ) -> None:
        self._prices = {name.lower(): price for name, price in prices.items()}
        self._aliases = {name.lower(): target.lower() for name, target in (aliases or {}).items()}
        self.as_of = as_of
        self.currency = currency
        self._resolved: dict[str, str | None] = {}
        self._warned: set[str] = set()

    # --- construction ----------------------------------------------------------------------------

    @classmethod
    def from_document(cls, document: object, source: str = "prices") -> PriceTable:
        """A table from a parsed file; ResourceValidationError names `source` and the bad field."""
        doc = _validate(document, source)
        return cls(_prices(doc), aliases=doc.aliases, as_of=doc.as_of, currency=doc.currency)

    @classmethod
    def builtin(cls) -> PriceTable:
        """The shipped table (`prices.json`, dated by its `asOf`)."""
        text = resources.files("tollgate.usage").joinpath("prices.json").read_text(encoding="utf-8")
        return cls.from_document(json.loads(text), "prices.json")

    @classmethod
    def load(cls, override: Path | None = None) -> PriceTable:
        """The shipped table with `override` (else the file env TOLLGATE_PRICES names, if set) laid over it.

        The override replaces or adds models one by one and may add aliases; its `asOf` and
        `currency`, when given, describe the result. A missing or invalid file is an error (at
        start-up, where it can be fixed), never a silent fall-back to other prices.
        """
        table = cls.builtin()
        path = override or (Path(os.environ[PRICES_ENV]) if os.environ.get(PRICES_ENV) else None)
        if path is None:
            return table
        try:
            text = path.expanduser().read_text(encoding="utf-8")
            document = yaml.safe_load(text)
        except (OSError, yaml.YAMLError) as exc:
            raise ResourceValidationError(str(path), "", f"cannot read the price file ({type(exc).__name__})") from None
        return table._overlaid(_validate(document, str(path)))

    def _overlaid(self, doc: _TableDoc) -> PriceTable:
        prices = {**self._prices, **{name.lower(): price for name, price in _prices(doc).items()}}
        return PriceTable(
            prices,
            aliases={**self._aliases, **doc.aliases},
            as_of=doc.as_of or self.as_of,
            currency=doc.currency if "currency" in doc.model_fields_set else self.currency,
        )

    # --- lookup ----------------------------------------------------------------------------------

    @property
    def models(self) -> dict[str, ModelPrice]:
        """Every priced model name (lower case) and its prices."""
        return dict(self._prices)

    def resolve(self, model: str | None) -> str | None:
        """The table's name for `model` (exact, alias, then without prefixes and version suffixes), or None."""
        if not model:
            return None
        if model in self._resolved:
            return self._resolved[model]
        name = self._normalise(model)
        if len(self._resolved) < MAX_REMEMBERED_MODELS:
            self._resolved[model] = name
        return name

    def lookup(self, model: str | None) -> ModelPrice | None:
        name = self.resolve(model)
        return None if name is None else self._prices[name]

    def cost(self, model: str | None, prompt: int | None, completion: int | None, cached: int | None = None) -> float:
        """The request's cost in the table's currency; 0.0 (and one warning per name) for an unknown model."""
        price = self.lookup(model)
        if price is None:
            self._warn_unknown(model)
            return 0.0
        return price.cost(prompt, completion, cached)

    def _normalise(self, model: str) -> str | None:
        name = model.strip().lower()
        candidates = [name]
        stripped = _PREFIX.sub("", name)
        if stripped != name:
            candidates.append(stripped)
        while (shorter := _SUFFIX.sub("", stripped)) != stripped and shorter:
            candidates.append(shorter)
            stripped = shorter
        for candidate in candidates:
            candidate = self._aliases.get(candidate, candidate)
            if candidate in self._prices:
                return candidate
        return None

    def _warn_unknown(self, model: str | None) -> None:
        label = model or "(no model)"
        if label in self._warned or len(self._warned) > MAX_WARNED_MODELS:
            return
        self._warned.add(label)
        if len(self._warned) > MAX_WARNED_MODELS:
            logger.warning("more than %d unpriced models: no further warnings", MAX_WARNED_MODELS)
        else:
            logger.warning(
                "no price for model %r: its cost counts as 0 (add it to the file %s names)", label[:256], PRICES_ENV
            )

    def to_document(self) -> dict[str, Any]:
        """The table in its file shape (what the management API shows)."""
        return {
            "asOf": self.as_of,
            "currency": self.currency,
            "unit": "per 1M tokens",
            "models": {
                name: {"input": p.input, "output": p.output, "cachedInput": p.cached_input}
                for name, p in sorted(self._prices.items())
            },
            "aliases": dict(sorted(self._aliases.items())),
        }


def _validate(document: object, source: str) -> _TableDoc:
    try:
        return _TableDoc.model_validate(document if document is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ResourceValidationError(source, field, first["msg"]) from None


def _prices(doc: _TableDoc) -> dict[str, ModelPrice]:
    return {name: ModelPrice(p.input, p.output, p.cached_input) for name, p in doc.models.items()}


@functools.cache
def default_table() -> PriceTable:
    """The process's table: shipped prices plus TOLLGATE_PRICES, loaded once on first use."""
    return PriceTable.load()


def cost(model: str | None, prompt: int | None, completion: int | None, cached: int | None = None) -> float:
    """`default_table().cost(...)`: the cost of one request at list prices; 0.0 for unknown models."""
    return default_table().cost(model, prompt, completion, cached)
