"""The 13 client setups of the SDK matrix (DESIGN.md §2), each configured as the client guide shows
(gateway key in X-API-Key via default headers, SDK key argument = gateway key, or "placeholder" for
google-genai), plus timeouts and no retries so no test can hang.

Each setup has `basic(url, key, prompt)` and `stream(url, key, prompt)` returning a `Result`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

TIMEOUT_S = 15.0


@dataclass
class Result:
    text: str
    request_id: str | None = None
    #: streamed text pieces, in order
    pieces: list[str] = field(default_factory=list)
    #: OpenAI-style chunks with `choices == []` (as dicts of what the SDK saw)
    empty_choice_chunks: list[dict[str, Any]] = field(default_factory=list)


def lc_text(content: Any) -> str:
    """Text of a LangChain message/chunk content (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for block in content:
            if isinstance(block, str):
                out.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                out.append(str(block.get("text", "")))
        return "".join(out)
    return ""


# --- openai SDK (OpenAI, Mistral-via-OpenAI, Azure) -------------------------------------------------


def openai_client(url: str, key: str, **extra: Any) -> Any:
    from openai import OpenAI

    return OpenAI(
        api_key=key, base_url=url + "/v1", default_headers={"X-API-Key": key}, timeout=TIMEOUT_S, max_retries=0, **extra
    )


def azure_client(url: str, key: str, api_version: str, **extra: Any) -> Any:
    from openai import AzureOpenAI

    return AzureOpenAI(
        api_key=key,
        azure_endpoint=url,
        api_version=api_version,
        default_headers={"X-API-Key": key},
        timeout=TIMEOUT_S,
        max_retries=0,
        **extra,
    )


def _openai_basic(client: Any, model: str, prompt: str) -> Result:
    response = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])
    return Result(response.choices[0].message.content, getattr(response, "_request_id", None))


def _openai_stream(client: Any, model: str, prompt: str) -> Result:
    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}], stream=True)
    result = Result("", stream.response.headers.get("x-request-id"))
    with stream:
        for chunk in stream:
            if not chunk.choices:
                result.empty_choice_chunks.append(chunk.model_dump())
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                result.pieces.append(delta)
    result.text = "".join(result.pieces)
    return result


def openai_sdk(model: str) -> tuple[Callable[..., Result], Callable[..., Result]]:
    return (
        lambda url, key, prompt: _openai_basic(openai_client(url, key), model, prompt),
        lambda url, key, prompt: _openai_stream(openai_client(url, key), model, prompt),
    )


def azure_sdk(api_version: str, deployment: str) -> tuple[Callable[..., Result], Callable[..., Result]]:
    return (
        lambda url, key, prompt: _openai_basic(azure_client(url, key, api_version), deployment, prompt),
        lambda url, key, prompt: _openai_stream(azure_client(url, key, api_version), deployment, prompt),
    )


# --- LangChain -----------------------------------------------------------------------------------


def _lc_basic(llm: Any, prompt: str) -> Result:
    from langchain_core.messages import HumanMessage

    response = llm.invoke([HumanMessage(content=prompt)])
    return Result(lc_text(response.content))


def _lc_stream(llm: Any, prompt: str) -> Result:
    from langchain_core.messages import HumanMessage

    result = Result("")
    for chunk in llm.stream([HumanMessage(content=prompt)]):
        text = lc_text(chunk.content)
        if text:
            result.pieces.append(text)
    result.text = "".join(result.pieces)
    return result


def chat_openai(url: str, key: str, model: str) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=model,
        api_key=key,
        base_url=url + "/v1",
        default_headers={"X-API-Key": key},
        timeout=TIMEOUT_S,
        max_retries=0,
    )


def azure_chat_openai(url: str, key: str, api_version: str, deployment: str) -> Any:
    from langchain_openai import AzureChatOpenAI

    return AzureChatOpenAI(
        azure_deployment=deployment,
        api_version=api_version,
        azure_endpoint=url,
        api_key=key,
        default_headers={"X-API-Key": key},
        timeout=TIMEOUT_S,
        max_retries=0,
    )


def chat_anthropic(url: str, key: str) -> Any:
    from langchain_anthropic import ChatAnthropic

    return ChatAnthropic(
        model="claude-sonnet-4-5",
        api_key=key,
        anthropic_api_url=url,
        default_headers={"X-API-Key": key},
        max_tokens=1024,
        default_request_timeout=TIMEOUT_S,
        max_retries=0,
    )


def major(package: str) -> int:
    """The installed major version of `package` (the previous-majors environments run these setups too)."""
    return int(version(package).split(".", 1)[0])


def chat_gemini(url: str, key: str) -> Any:
    from langchain_google_genai import ChatGoogleGenerativeAI

    # Up to 3.x it speaks gRPC by default, which no HTTP gateway serves: the guide's previous-majors
    # section says to add transport="rest" (its stream is then one JSON array, not SSE).
    extra: dict[str, Any] = {"transport": "rest"} if major("langchain-google-genai") < 4 else {}
    # LangChain-Gemini retries 5xx/429 six times with backoff by default: keep it at one attempt.
    return ChatGoogleGenerativeAI(
        model="gemini-2.5-flash",
        google_api_key=key,
        client_options={"api_endpoint": url},
        additional_headers={"X-API-Key": key},
        timeout=TIMEOUT_S,
        max_retries=0,
        **extra,
    )


def lc(factory: Callable[[str, str], Any]) -> tuple[Callable[..., Result], Callable[..., Result]]:
    return (
        lambda url, key, prompt: _lc_basic(factory(url, key), prompt),
        lambda url, key, prompt: _lc_stream(factory(url, key), prompt),
    )


# --- anthropic SDK -------------------------------------------------------------------------------


def anthropic_client(url: str, key: str, **extra: Any) -> Any:
    import anthropic

    # As the guide shows: no default_headers (anthropic>=2 sends the key as Authorization: Bearer).
    return anthropic.Anthropic(api_key=key, base_url=url, timeout=TIMEOUT_S, max_retries=0, **extra)


def _anthropic_basic(url: str, key: str, prompt: str) -> Result:
    client = anthropic_client(url, key)
    response = client.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=1024, messages=[{"role": "user", "content": prompt}]
    )
    message = response.parse()
    return Result(message.content[0].text, response.headers.get("x-request-id"))


def _anthropic_stream(url: str, key: str, prompt: str) -> Result:
    client = anthropic_client(url, key)
    result = Result("")
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=1024, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        result.request_id = stream.response.headers.get("x-request-id")
        for text in stream.text_stream:
            result.pieces.append(text)
    result.text = "".join(result.pieces)
    return result


# --- google-genai --------------------------------------------------------------------------------


def genai_client(url: str, key: str) -> Any:
    from google import genai
    from google.genai import types as genai_types

    http_options = genai_types.HttpOptions(
        base_url=url,
        headers={"X-API-Key": key},
        timeout=int(TIMEOUT_S * 1000),
        retry_options=genai_types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key="placeholder", http_options=http_options)


def _genai_basic(url: str, key: str, prompt: str) -> Result:
    client = genai_client(url, key)  # keep a reference: a collected Client closes its HTTP client
    response = client.models.generate_content(model="gemini-2.5-flash", contents=prompt)
    headers = response.sdk_http_response.headers if response.sdk_http_response else None
    return Result(response.text, (headers or {}).get("x-request-id"))


def _genai_stream(url: str, key: str, prompt: str) -> Result:
    result = Result("")
    client = genai_client(url, key)
    for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents=prompt):
        if result.request_id is None and chunk.sdk_http_response and chunk.sdk_http_response.headers:
            result.request_id = chunk.sdk_http_response.headers.get("x-request-id")
        if chunk.text:
            result.pieces.append(chunk.text)
    result.text = "".join(result.pieces)
    return result


# --- mistralai native SDK ------------------------------------------------------------------------


def mistral_client(url: str, key: str) -> Any:
    from mistralai.client import Mistral  # sdk-contract §6.2: `from mistralai import Mistral` fails on >= 2

    # mistralai 3.x is built on httpx2, 2.x on httpx: the hook client is the one the SDK uses.
    if major("mistralai") >= 3:
        import httpx2 as http
    else:
        import httpx as http  # type: ignore[no-redef]

    def _inject_api_key(request: Any) -> None:
        request.headers["X-API-Key"] = key

    http_client = http.Client(event_hooks={"request": [_inject_api_key]}, timeout=TIMEOUT_S)
    return Mistral(api_key=key, server_url=url, client=http_client, timeout_ms=int(TIMEOUT_S * 1000))


def _mistral_basic(url: str, key: str, prompt: str) -> Result:
    client = mistral_client(url, key)
    response = client.chat.complete(model="mistral-small-latest", messages=[{"role": "user", "content": prompt}])
    return Result(response.choices[0].message.content)


def _mistral_stream(url: str, key: str, prompt: str) -> Result:
    result = Result("")
    client = mistral_client(url, key)
    with client.chat.stream(model="mistral-small-latest", messages=[{"role": "user", "content": prompt}]) as stream:
        for event in stream:
            if not event.data.choices:
                result.empty_choice_chunks.append(event.data.model_dump())
            if event.data.choices and event.data.choices[0].delta.content:
                result.pieces.append(str(event.data.choices[0].delta.content))
    result.text = "".join(result.pieces)
    return result


# --- the matrix ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    id: str
    provider: str  # the provider route it targets (its proxy is `<provider>-app`)
    model: str  # the request model the gateway should record
    label: str  # the mock's label in "Hello from the mock <label> API."
    basic: Callable[..., Result]
    stream: Callable[..., Result]
    #: whether the client itself asks for stream usage (then an empty-choices usage chunk is legitimate)
    asks_stream_usage: bool = False


def setups(azure_deployment: str, foundry_deployment: str) -> list[Setup]:
    az, fd = "2024-10-21", "2024-05-01-preview"
    return [
        Setup("openai-OpenAI", "openai", "gpt-4o", "OpenAI", *openai_sdk("gpt-4o")),
        Setup("openai-ChatOpenAI", "openai", "gpt-4o", "OpenAI", *lc(lambda url, key: chat_openai(url, key, "gpt-4o"))),
        Setup(
            "anthropic-Anthropic", "anthropic", "claude-sonnet-4-5", "Anthropic", _anthropic_basic, _anthropic_stream
        ),
        Setup("anthropic-ChatAnthropic", "anthropic", "claude-sonnet-4-5", "Anthropic", *lc(chat_anthropic)),
        Setup("gemini-genai", "gemini", "gemini-2.5-flash", "Gemini", _genai_basic, _genai_stream),
        Setup("gemini-ChatGoogleGenerativeAI", "gemini", "gemini-2.5-flash", "Gemini", *lc(chat_gemini)),
        Setup("mistral-Mistral", "mistral", "mistral-small-latest", "Mistral", _mistral_basic, _mistral_stream),
        Setup("mistral-OpenAI", "mistral", "mistral-small-latest", "Mistral", *openai_sdk("mistral-small-latest")),
        Setup(
            "mistral-ChatOpenAI",
            "mistral",
            "mistral-small-latest",
            "Mistral",
            *lc(lambda url, key: chat_openai(url, key, "mistral-small-latest")),
        ),
        Setup("azure-AzureOpenAI", "azure", azure_deployment, "Azure OpenAI", *azure_sdk(az, azure_deployment)),
        Setup(
            "azure-AzureChatOpenAI",
            "azure",
            azure_deployment,
            "Azure OpenAI",
            *lc(lambda url, key: azure_chat_openai(url, key, az, azure_deployment)),
            asks_stream_usage=True,
        ),
        Setup(
            "foundry-AzureOpenAI", "foundry", foundry_deployment, "Azure AI Foundry", *azure_sdk(fd, foundry_deployment)
        ),
        Setup(
            "foundry-AzureChatOpenAI",
            "foundry",
            foundry_deployment,
            "Azure AI Foundry",
            *lc(lambda url, key: azure_chat_openai(url, key, fd, foundry_deployment)),
            asks_stream_usage=True,
        ),
    ]
