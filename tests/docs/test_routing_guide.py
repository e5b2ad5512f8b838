"""docs/routing-and-translation.md: its example YAML is valid, compiles to translated routes, and its
table names every pair the registry holds."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tollgate.gateway.snapshot import compile_snapshot
from tollgate.gateway.upstream import PoolRegistry
from tollgate.providers.pairs import PAIR_TRANSLATORS
from tollgate.resources.loader import parse_document
from tollgate.resources.models import LLMProvider, LLMProxy
from tollgate.resources.resource_set import ResourceSet

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "routing-and-translation.md"


def test_example_yaml_compiles_to_translated_routes() -> None:
    block = re.search(r"```yaml\n(.*?)```", GUIDE.read_text(), re.S)
    assert block is not None
    docs = [parse_document(d, "guide") for d in yaml.safe_load_all(block.group(1))]
    providers = {d.metadata.name: d for d in docs if isinstance(d, LLMProvider)}
    proxies = {d.metadata.name: d for d in docs if isinstance(d, LLMProxy)}
    rs = ResourceSet(
        templates={}, providers=providers, proxies=proxies, keys=[], secrets={"anthropic-key": "k", "gemini-key": "k"}
    )
    snap = compile_snapshot(rs, PoolRegistry())
    names = {ctx: route.targets[0].translator.name for ctx, route in snap.routes.items()}
    assert names == {
        "/claude": "anthropic->anthropic",
        "/oai/claude": "openai->anthropic",
        "/agents/gemini": "anthropic->gemini",
    }


def test_table_names_every_registered_pair() -> None:
    text = GUIDE.read_text()
    for client, backend in PAIR_TRANSLATORS:
        assert f"(`{backend}`)" in text, backend
        assert {"openai": "OpenAI →", "anthropic": "Anthropic →"}[client] in text
