"""Label selectors: kubectl's forms, AND of terms, errors that quote the bad term."""

from __future__ import annotations

import pytest

from tollgate.resources.selectors import parse_selector

LABELS = {"team": "a", "tier": "prod", "example.com/owner": "ops"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("", True),
        ("team=a", True),
        ("team==a", True),
        ("team=b", False),
        ("team!=b", True),
        ("missing!=x", True),
        ("team", True),
        ("!team", False),
        ("!missing", True),
        ("tier in (dev, prod)", True),
        ("tier notin (dev,prod)", False),
        ("team=a,tier=dev", False),
        ("team=a, tier in (prod), example.com/owner=ops", True),
        ("empty=", False),
    ],
)
def test_forms(text: str, matches: bool) -> None:
    assert parse_selector(text).matches(LABELS) is matches


def test_empty_value_matches_an_empty_label() -> None:
    assert parse_selector("flag=").matches({"flag": ""})


@pytest.mark.parametrize("text", ["team=a=b", "=a", "!team=a", "team in ()", "team in (a b)", "bad key=1"])
def test_invalid_terms_are_named(text: str) -> None:
    with pytest.raises(ValueError, match="label selector term"):
        parse_selector(text)


def test_stored_metadata_without_labels_is_unlabelled() -> None:
    selector = parse_selector("!team")
    assert selector.matches_metadata({"name": "x"}) and not parse_selector("team").matches_metadata({"name": "x"})
