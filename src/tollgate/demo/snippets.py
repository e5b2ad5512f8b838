"""Ready-to-run client snippets for every row of the SDK matrix, filled with an Invoke URL and key.

The forms are the ones that work with the current SDK versions (docs/sdk-guide.md explains each
difference from older guides: `from mistralai.client import Mistral`, anthropic 2.x sending its
key as a Bearer token, google-genai 3.x calling `/v1/`). Each snippet makes one basic call and one
streamed call, printing both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tollgate.resources.models import DEFAULT_KEY_HEADER


@dataclass(frozen=True, slots=True)
class Snippet:
    client: str  # e.g. "openai", "langchain-openai"
    vendor: str  # the demo vendor (provider) it talks to
    install: str
    code: str


_OPENAI = """from openai import OpenAI

INVOKE_URL = "{url}/v1"
API_KEY = "{key}"

client = OpenAI(api_key=API_KEY, base_url=INVOKE_URL, {key_kwarg})

response = client.chat.completions.create(
    model="{model}", messages=[{{"role": "user", "content": "What is an AI gateway?"}}]
)
print(response.choices[0].message.content)

stream = client.chat.completions.create(
    model="{model}", messages=[{{"role": "user", "content": "Count from 1 to 5."}}], stream=True
)
for chunk in stream:
    delta = chunk.choices[0].delta.content if chunk.choices else None
    if delta:
        print(delta, end="", flush=True)
print()
"""

_LANGCHAIN_OPENAI = """from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

INVOKE_URL = "{url}/v1"
API_KEY = "{key}"

llm = ChatOpenAI(model="{model}", api_key=API_KEY, base_url=INVOKE_URL, {key_kwarg})

print(llm.invoke([HumanMessage(content="What is an AI gateway?")]).content)
for chunk in llm.stream([HumanMessage(content="Count from 1 to 5.")]):
    if chunk.content:
        print(chunk.content, end="", flush=True)
print()
"""

_ANTHROPIC = """import anthropic

INVOKE_URL = "{url}"
API_KEY = "{key}"

client = anthropic.Anthropic(api_key=API_KEY, base_url=INVOKE_URL, {key_kwarg})

response = client.messages.create(
    model="{model}", max_tokens=1024, messages=[{{"role": "user", "content": "What is an AI gateway?"}}]
)
print(response.content[0].text)

with client.messages.stream(
    model="{model}", max_tokens=1024, messages=[{{"role": "user", "content": "Count from 1 to 5."}}]
) as stream:
    for text in stream.text_stream:
        print(text, end="", flush=True)
print()
"""

_LANGCHAIN_ANTHROPIC = """from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage

INVOKE_URL = "{url}"
API_KEY = "{key}"

llm = ChatAnthropic(
    model="{model}", api_key=API_KEY, anthropic_api_url=INVOKE_URL,
    {key_kwarg}, max_tokens=1024,
)

print(llm.invoke([HumanMessage(content="What is an AI gateway?")]).content)
for chunk in llm.stream([HumanMessage(content="Count from 1 to 5.")]):
    if chunk.content:
        print(chunk.content, end="", flush=True)
print()
"""

_GENAI = """from google import genai
from google.genai import types as genai_types

INVOKE_URL = "{url}"
API_KEY = "{key}"

http_options = genai_types.HttpOptions(base_url=INVOKE_URL, {key_kwarg})
client = genai.Client(api_key="placeholder", http_options=http_options)

print(client.models.generate_content(model="{model}", contents="What is an AI gateway?").text)
for chunk in client.models.generate_content_stream(model="{model}", contents="Count from 1 to 5."):
    if chunk.text:
        print(chunk.text, end="", flush=True)
print()
"""

_LANGCHAIN_GENAI = """from langchain_core.messages import HumanMessage
from langchain_google_genai import ChatGoogleGenerativeAI

INVOKE_URL = "{url}"
API_KEY = "{key}"

llm = ChatGoogleGenerativeAI(
    model="{model}", google_api_key=API_KEY,
    client_options={{"api_endpoint": INVOKE_URL}}, {key_kwarg},
)

print(llm.invoke([HumanMessage(content="What is an AI gateway?")]).content)
for chunk in llm.stream([HumanMessage(content="Count from 1 to 5.")]):
    if chunk.content:
        print(chunk.content, end="", flush=True)
print()
"""

_MISTRAL = """import httpx2
from mistralai.client import Mistral

INVOKE_URL = "{url}"
API_KEY = "{key}"


def _inject_api_key(request):
    {key_hook}


client = Mistral(
    api_key=API_KEY, server_url=INVOKE_URL, client=httpx2.Client(event_hooks={{"request": [_inject_api_key]}})
)

response = client.chat.complete(model="{model}", messages=[{{"role": "user", "content": "What is an AI gateway?"}}])
print(response.choices[0].message.content)

with client.chat.stream(model="{model}", messages=[{{"role": "user", "content": "Count from 1 to 5."}}]) as stream:
    for event in stream:
        if event.data.choices and event.data.choices[0].delta.content:
            print(event.data.choices[0].delta.content, end="", flush=True)
print()
"""

_AZURE = """from openai import AzureOpenAI

INVOKE_URL = "{url}"
API_KEY = "{key}"

client = AzureOpenAI(
    api_key=API_KEY, azure_endpoint=INVOKE_URL, api_version="{api_version}", {key_kwarg}
)

response = client.chat.completions.create(
    model="{model}", messages=[{{"role": "user", "content": "What is an AI gateway?"}}]
)
print(response.choices[0].message.content)

stream = client.chat.completions.create(
    model="{model}", messages=[{{"role": "user", "content": "Count from 1 to 5."}}], stream=True
)
for chunk in stream:
    delta = chunk.choices[0].delta.content if chunk.choices else None
    if delta:
        print(delta, end="", flush=True)
print()
"""

_LANGCHAIN_AZURE = """from langchain_core.messages import HumanMessage
from langchain_openai import AzureChatOpenAI

INVOKE_URL = "{url}"
API_KEY = "{key}"

llm = AzureChatOpenAI(
    azure_deployment="{model}", api_version="{api_version}", azure_endpoint=INVOKE_URL,
    api_key=API_KEY, {key_kwarg},
)

print(llm.invoke([HumanMessage(content="What is an AI gateway?")]).content)
for chunk in llm.stream([HumanMessage(content="Count from 1 to 5.")]):
    if chunk.content:
        print(chunk.content, end="", flush=True)
print()
"""


@dataclass(frozen=True, slots=True)
class KeyPlacement:
    """Where a route wants its API key (its Security tab): a header or a query parameter, by name, with a prefix."""

    location: str = "header"  # "header" or "query"
    name: str = DEFAULT_KEY_HEADER
    prefix: str = ""


#: The demo's routes: the key in `X-API-Key`, as the SDK guide shows.
DEFAULT_PLACEMENT = KeyPlacement()
#: The mistralai client adds the key in a request hook (it has no default-headers option).
_HOOK = "hook"


@dataclass(frozen=True, slots=True)
class _Row:
    client: str
    vendor: str
    install: str
    template: str
    api_version: str
    header_kwarg: str  # the client's keyword for extra headers (or _HOOK)
    query_kwarg: str | None  # ... for extra query parameters; None: the client cannot add one


#: The 13 rows of the SDK matrix.
_MATRIX: tuple[_Row, ...] = (
    _Row("openai", "openai", "openai", _OPENAI, "", "default_headers", "default_query"),
    _Row("langchain-openai", "openai", "langchain-openai", _LANGCHAIN_OPENAI, "", "default_headers", "default_query"),
    _Row("anthropic", "anthropic", "anthropic", _ANTHROPIC, "", "default_headers", "default_query"),
    _Row("langchain-anthropic", "anthropic", "langchain-anthropic", _LANGCHAIN_ANTHROPIC, "", "default_headers", None),
    _Row("google-genai", "gemini", "google-genai", _GENAI, "", "headers", None),
    _Row(
        "langchain-google-genai",
        "gemini",
        "'langchain-google-genai>=4'",
        _LANGCHAIN_GENAI,
        "",
        "additional_headers",
        None,
    ),
    _Row("mistralai", "mistral", "mistralai", _MISTRAL, "", _HOOK, _HOOK),
    _Row("openai", "mistral", "openai", _OPENAI, "", "default_headers", "default_query"),
    _Row("langchain-openai", "mistral", "langchain-openai", _LANGCHAIN_OPENAI, "", "default_headers", "default_query"),
    _Row("openai (AzureOpenAI)", "azure-openai", "openai", _AZURE, "2024-10-21", "default_headers", "default_query"),
    _Row(
        "langchain-openai (AzureChatOpenAI)",
        "azure-openai",
        "langchain-openai",
        _LANGCHAIN_AZURE,
        "2024-10-21",
        "default_headers",
        "default_query",
    ),
    _Row(
        "openai (AzureOpenAI)",
        "azure-foundry",
        "openai",
        _AZURE,
        "2024-05-01-preview",
        "default_headers",
        "default_query",
    ),
    _Row(
        "langchain-openai (AzureChatOpenAI)",
        "azure-foundry",
        "langchain-openai",
        _LANGCHAIN_AZURE,
        "2024-05-01-preview",
        "default_headers",
        "default_query",
    ),
)
#: The vendors of the matrix, in its order (what a route's template family maps to).
VENDORS = tuple(dict.fromkeys(row.vendor for row in _MATRIX))


class PlacementUnsupportedError(ValueError):
    """The client has no way to send the key where the route wants it (a query parameter, for some SDKs)."""


def _key_value(placement: KeyPlacement) -> str:
    return f"{json.dumps(placement.prefix)} + API_KEY" if placement.prefix else "API_KEY"


def _key_code(row: _Row, placement: KeyPlacement) -> tuple[str, str]:
    """The (constructor keyword argument, request-hook line) that put the key where `placement` says."""
    name = json.dumps(placement.name)
    if placement.location == "query":
        if row.query_kwarg is None:
            raise PlacementUnsupportedError(f"{row.client} cannot send the key in a query parameter")
        if row.query_kwarg == _HOOK:
            return "", f"request.url = request.url.copy_merge_params({{{name}: {_key_value(placement)}}})"
        return f"{row.query_kwarg}={{{name}: {_key_value(placement)}}}", ""
    if row.header_kwarg == _HOOK:
        return "", f"request.headers[{name}] = {_key_value(placement)}"
    return f"{row.header_kwarg}={{{name}: {_key_value(placement)}}}", ""


def _render(row: _Row, url: str, key: str, model: str, placement: KeyPlacement) -> Snippet:
    kwarg, hook = _key_code(row, placement)
    code = row.template.format(
        url=url, key=key, model=model, api_version=row.api_version, key_kwarg=kwarg, key_hook=hook
    )
    return Snippet(client=row.client, vendor=row.vendor, install=f"pip install {row.install}", code=code)


def snippets(
    invoke_urls: dict[str, str],
    keys: dict[str, str],
    models: dict[str, str],
    placement: KeyPlacement = DEFAULT_PLACEMENT,
) -> list[Snippet]:
    """One snippet per matrix row; `invoke_urls`, `keys` and `models` are keyed by demo vendor."""
    return [_render(row, invoke_urls[row.vendor], keys[row.vendor], models[row.vendor], placement) for row in _MATRIX]


def route_snippets(vendor: str, url: str, key: str, model: str, placement: KeyPlacement) -> list[Snippet | str]:
    """The snippets of the matrix rows of `vendor` for one route (the console's Get started panel).

    A row whose client cannot put the key where the route wants it is a sentence saying so instead.
    """
    out: list[Snippet | str] = []
    for row in _MATRIX:
        if row.vendor == vendor:
            try:
                out.append(_render(row, url, key, model, placement))
            except PlacementUnsupportedError as exc:
                out.append(f"{exc}: choose a header on the Security tab to use it.")
    return out
