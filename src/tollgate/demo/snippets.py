"""Ready-to-run client snippets for every row of the SDK matrix, filled with an Invoke URL and key.

The forms are the ones that work with the current SDK versions (docs/sdk-guide.md explains each
difference from older guides: `from mistralai.client import Mistral`, anthropic 2.x sending its
key as a Bearer token, google-genai 3.x calling `/v1/`). Each snippet makes one basic call and one
streamed call, printing both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Snippet:
    client: str  # e.g. "openai", "langchain-openai"
    vendor: str  # the demo vendor (provider) it talks to
    install: str
    code: str


_OPENAI = """from openai import OpenAI

INVOKE_URL = "{url}/v1"
API_KEY = "{key}"

client = OpenAI(api_key=API_KEY, base_url=INVOKE_URL, default_headers={{"X-API-Key": API_KEY}})

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

llm = ChatOpenAI(model="{model}", api_key=API_KEY, base_url=INVOKE_URL, default_headers={{"X-API-Key": API_KEY}})

print(llm.invoke([HumanMessage(content="What is an AI gateway?")]).content)
for chunk in llm.stream([HumanMessage(content="Count from 1 to 5.")]):
    if chunk.content:
        print(chunk.content, end="", flush=True)
print()
"""

_ANTHROPIC = """import anthropic

INVOKE_URL = "{url}"
API_KEY = "{key}"

client = anthropic.Anthropic(api_key=API_KEY, base_url=INVOKE_URL)

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
    default_headers={{"X-API-Key": API_KEY}}, max_tokens=1024,
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

http_options = genai_types.HttpOptions(base_url=INVOKE_URL, headers={{"X-API-Key": API_KEY}})
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
    client_options={{"api_endpoint": INVOKE_URL}}, additional_headers={{"X-API-Key": API_KEY}},
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
    request.headers["X-API-Key"] = API_KEY


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
    api_key=API_KEY, azure_endpoint=INVOKE_URL, api_version="{api_version}", default_headers={{"X-API-Key": API_KEY}}
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
    api_key=API_KEY, default_headers={{"X-API-Key": API_KEY}},
)

print(llm.invoke([HumanMessage(content="What is an AI gateway?")]).content)
for chunk in llm.stream([HumanMessage(content="Count from 1 to 5.")]):
    if chunk.content:
        print(chunk.content, end="", flush=True)
print()
"""

#: (client, vendor, pip install line, template, api_version) — the 13 rows of the SDK matrix.
_MATRIX: tuple[tuple[str, str, str, str, str], ...] = (
    ("openai", "openai", "openai", _OPENAI, ""),
    ("langchain-openai", "openai", "langchain-openai", _LANGCHAIN_OPENAI, ""),
    ("anthropic", "anthropic", "anthropic", _ANTHROPIC, ""),
    ("langchain-anthropic", "anthropic", "langchain-anthropic", _LANGCHAIN_ANTHROPIC, ""),
    ("google-genai", "gemini", "google-genai", _GENAI, ""),
    ("langchain-google-genai", "gemini", "'langchain-google-genai>=4'", _LANGCHAIN_GENAI, ""),
    ("mistralai", "mistral", "mistralai", _MISTRAL, ""),
    ("openai", "mistral", "openai", _OPENAI, ""),
    ("langchain-openai", "mistral", "langchain-openai", _LANGCHAIN_OPENAI, ""),
    ("openai (AzureOpenAI)", "azure-openai", "openai", _AZURE, "2024-10-21"),
    ("langchain-openai (AzureChatOpenAI)", "azure-openai", "langchain-openai", _LANGCHAIN_AZURE, "2024-10-21"),
    ("openai (AzureOpenAI)", "azure-foundry", "openai", _AZURE, "2024-05-01-preview"),
    ("langchain-openai (AzureChatOpenAI)", "azure-foundry", "langchain-openai", _LANGCHAIN_AZURE, "2024-05-01-preview"),
)


def snippets(invoke_urls: dict[str, str], keys: dict[str, str], models: dict[str, str]) -> list[Snippet]:
    """One snippet per matrix row; `invoke_urls`, `keys` and `models` are keyed by demo vendor."""
    out = []
    for client, vendor, install, template, api_version in _MATRIX:
        code = template.format(url=invoke_urls[vendor], key=keys[vendor], model=models[vendor], api_version=api_version)
        out.append(Snippet(client=client, vendor=vendor, install=f"pip install {install}", code=code))
    return out
