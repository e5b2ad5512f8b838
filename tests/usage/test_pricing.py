"""The price table: shipped data, name normalisation, cost arithmetic, overrides, unknown models."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tollgate.errors import ResourceValidationError
from tollgate.usage import pricing
from tollgate.usage.pricing import ModelPrice, PriceTable


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.builtin()


def test_shipped_table_is_dated_and_in_usd(table: PriceTable) -> None:
    assert table.as_of == "2025-11-30"
    assert table.currency == "USD"
    assert table.lookup("gpt-4o") == ModelPrice(input=2.5, output=10.0, cached_input=1.25)
    assert table.lookup("claude-sonnet-4-5") == ModelPrice(input=3.0, output=15.0, cached_input=0.3)
    assert table.lookup("gemini-2.5-flash") == ModelPrice(input=0.3, output=2.5, cached_input=0.03)
    assert table.lookup("mistral-small") == ModelPrice(input=0.1, output=0.3, cached_input=None)


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # a dated snapshot with its own price wins over the family
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-sonnet-4-0", "claude-sonnet-4"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gemini-1.5-flash-002", "gemini-1.5-flash"),
        ("gemini-3-pro-preview", "gemini-3-pro-preview"),
        ("mistral-small-latest", "mistral-small"),
        ("mistral-large-2411", "mistral-large"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
    ],
)
def test_names_resolve_to_table_entries(table: PriceTable, model: str, name: str) -> None:
    assert table.resolve(model) == name


@pytest.mark.parametrize("model", ["gpt-9", "gpt4o-deploy", "gpt-4o-audio-preview", "", None, "my-deployment"])
def test_unknown_names_resolve_to_nothing(table: PriceTable, model: str | None) -> None:
    assert table.resolve(model) is None
    assert table.cost(model, 1000, 1000) == 0.0


def test_cost_charges_cached_prompt_tokens_at_the_cached_price(table: PriceTable) -> None:
    # gpt-4o: 2.50 in, 10.00 out, 1.25 cached; 1,000 prompt tokens of which 400 cached, 500 completion
    assert table.cost("gpt-4o-2024-08-06", 1000, 500, 400) == pytest.approx((600 * 2.5 + 400 * 1.25 + 500 * 10) / 1e6)
    assert table.cost("gpt-4o", 1_000_000, 0) == pytest.approx(2.5)
    assert table.cost("gpt-4o", 0, 1_000_000) == pytest.approx(10.0)
    assert table.cost("gpt-4o", None, None, None) == 0.0


def test_cached_tokens_without_a_cached_price_cost_the_input_price(table: PriceTable) -> None:
    assert table.cost("mistral-small-latest", 1_000_000, 0, 600_000) == pytest.approx(0.1)


def test_cached_is_capped_at_the_prompt() -> None:
    price = ModelPrice(input=2.0, output=0.0, cached_input=1.0)
    assert price.cost(100, 0, 500) == pytest.approx(100 * 1.0 / 1e6)


def test_unknown_model_warns_once_per_name(caplog: pytest.LogCaptureFixture) -> None:
    table = PriceTable({"a": ModelPrice(1.0, 1.0)})
    with caplog.at_level(logging.WARNING, logger="tollgate.usage.pricing"):
        assert table.cost("gpt-9", 10, 10) == 0.0
        assert table.cost("gpt-9", 10, 10) == 0.0
        assert table.cost("other", 10, 10) == 0.0
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "no price for model 'gpt-9': its cost counts as 0 (add it to the file TOLLGATE_PRICES names)",
        "no price for model 'other': its cost counts as 0 (add it to the file TOLLGATE_PRICES names)",
    ]


def test_warnings_stop_after_the_bound(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pricing, "MAX_WARNED_MODELS", 2)
    table = PriceTable({})
    with caplog.at_level(logging.WARNING, logger="tollgate.usage.pricing"):
        for i in range(10):
            table.cost(f"m{i}", 1, 1)
    assert len(caplog.records) == 3
    assert caplog.records[-1].getMessage() == "more than 2 unpriced models: no further warnings"


def test_override_file_replaces_and_adds_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    override = tmp_path / "prices.yaml"
    override.write_text(
        "asOf: '2026-11-01'\n"
        "models:\n"
        "  gpt-4o: {input: 2.0, output: 8.0}\n"
        "  our-llama: {input: 0.5, output: 0.5, cachedInput: 0.1}\n"
        "aliases:\n"
        "  gpt4o-deploy: gpt-4o\n"
    )
    monkeypatch.setenv(pricing.PRICES_ENV, str(override))
    table = PriceTable.load()
    assert table.as_of == "2026-11-01"
    assert table.lookup("gpt-4o-2024-08-06") == ModelPrice(2.0, 8.0, None)
    assert table.lookup("gpt4o-deploy") == ModelPrice(2.0, 8.0, None)
    assert table.lookup("our-llama") == ModelPrice(0.5, 0.5, 0.1)
    assert table.lookup("claude-sonnet-4-5") == ModelPrice(3.0, 15.0, 0.3)  # the rest is kept


def test_override_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({"models": {"gpt-4o": {"input": -1, "output": 1}}}))
    with pytest.raises(ResourceValidationError) as info:
        PriceTable.load(bad)
    assert info.value.document == str(bad)
    assert info.value.field == "models.gpt-4o.input"
    assert info.value.reason == "Input should be greater than or equal to 0"


def test_missing_override_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ResourceValidationError, match="cannot read the price file"):
        PriceTable.load(tmp_path / "absent.yaml")


def test_module_cost_uses_the_default_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pricing.PRICES_ENV, raising=False)
    pricing.default_table.cache_clear()
    try:
        assert pricing.cost("claude-haiku-4-5", 2_000_000, 1_000_000) == pytest.approx(2 * 1.0 + 1 * 5.0)
    finally:
        pricing.default_table.cache_clear()


def test_every_shipped_alias_points_at_a_priced_model(table: PriceTable) -> None:
    document = table.to_document()
    assert set(document["aliases"].values()) <= set(document["models"])
