"""The snippet renderer the demo and the console's Get started panel share: the key goes where the route says."""

from __future__ import annotations

import pytest

from tollgate.demo.snippets import DEFAULT_PLACEMENT, KeyPlacement, Snippet, route_snippets, snippets

URL = "http://127.0.0.1:8080/r"
KEY = "tg_0123456789ab_secret"
VENDORS = ("openai", "anthropic", "gemini", "mistral", "azure-openai", "azure-foundry")
PLACEMENTS = [DEFAULT_PLACEMENT, KeyPlacement("query", "api_key"), KeyPlacement("header", "Authorization", "Bearer ")]


def _codes(vendor: str, placement: KeyPlacement) -> dict[str, str]:
    out = {}
    for item in route_snippets(vendor, URL, KEY, "m", placement):
        assert isinstance(item, Snippet), item
        out[item.client] = item.code
    return out


@pytest.mark.parametrize("placement", PLACEMENTS, ids=["default", "query", "bearer"])
def test_every_rendered_snippet_is_valid_python(placement: KeyPlacement) -> None:
    rendered = 0
    for vendor in VENDORS:
        for item in route_snippets(vendor, URL, KEY, "m", placement):
            if isinstance(item, Snippet):
                compile(item.code, f"{vendor}-{item.client}", "exec")
                assert f'API_KEY = "{KEY}"' in item.code
                rendered += 1
    assert rendered == (13 if placement.location == "header" else 10)  # 3 clients have no query option


def test_the_demo_matrix_keeps_its_thirteen_rows_with_the_key_in_x_api_key() -> None:
    urls = {v: URL for v in VENDORS}
    rows = snippets(urls, {v: KEY for v in VENDORS}, {v: "m" for v in VENDORS})
    assert len(rows) == 13
    openai = rows[0].code
    assert 'client = OpenAI(api_key=API_KEY, base_url=INVOKE_URL, default_headers={"X-API-Key": API_KEY})' in openai
    assert 'INVOKE_URL = "http://127.0.0.1:8080/r/v1"' in openai


def test_a_query_parameter_goes_in_each_clients_own_query_option() -> None:
    query = KeyPlacement("query", "api_key")
    assert 'default_query={"api_key": API_KEY}' in _codes("openai", query)["openai"]
    assert 'default_query={"api_key": API_KEY}' in _codes("openai", query)["langchain-openai"]
    assert 'default_query={"api_key": API_KEY}' in _codes("azure-openai", query)["openai (AzureOpenAI)"]
    mistral = next(s for s in route_snippets("mistral", URL, KEY, "m", query) if isinstance(s, Snippet))
    assert 'request.url = request.url.copy_merge_params({"api_key": API_KEY})' in mistral.code


def test_a_client_that_cannot_send_a_query_parameter_says_so_instead_of_a_snippet_that_fails() -> None:
    items = route_snippets("anthropic", URL, KEY, "m", KeyPlacement("query", "api_key"))
    assert isinstance(items[0], Snippet)
    assert 'default_query={"api_key": API_KEY}' in items[0].code
    assert items[1] == (
        "langchain-anthropic cannot send the key in a query parameter: choose a header on the Security tab to use it."
    )


def test_a_header_with_a_value_prefix() -> None:
    bearer = KeyPlacement("header", "Authorization", "Bearer ")
    assert 'default_headers={"Authorization": "Bearer " + API_KEY}' in _codes("openai", bearer)["openai"]
    assert (
        'additional_headers={"Authorization": "Bearer " + API_KEY}'
        in _codes("gemini", bearer)["langchain-google-genai"]
    )
    assert 'request.headers["Authorization"] = "Bearer " + API_KEY' in _codes("mistral", bearer)["mistralai"]
