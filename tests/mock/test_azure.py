"""The Azure OpenAI and Azure AI Foundry mocks through AzureOpenAI and AzureChatOpenAI."""

from __future__ import annotations

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import AzureChatOpenAI

from tollgate.mock import MockServer

VERSIONS = {"azure": "2024-10-21", "foundry": "2024-05-01-preview"}


def client(mock: MockServer, vendor: str, key: str | None = None) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        api_key=key or mock.keys[vendor], azure_endpoint=mock.url(vendor), api_version=VERSIONS[vendor], max_retries=0
    )


@pytest.mark.parametrize("vendor", ["azure", "foundry"])
def test_chat_basic_reports_deployment_model_and_filters(mock: MockServer, vendor: str) -> None:
    response = client(mock, vendor).chat.completions.create(
        model="my-gpt", messages=[{"role": "user", "content": "Count from 1 to 5."}]
    )
    assert response.choices[0].message.content == "1 2 3 4 5"
    assert response.model == "gpt-4o-2024-11-20"
    assert response.usage is not None and response.usage.total_tokens == 10
    extra = response.model_extra or {}
    assert extra["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert (response.choices[0].model_extra or {})["content_filter_results"]["violence"]["severity"] == "safe"
    recorded = mock.requests(vendor)[-1]
    assert recorded["query"] == f"api-version={VERSIONS[vendor]}"
    assert recorded["vendor_path"] == "/openai/deployments/my-gpt/chat/completions"


@pytest.mark.parametrize("vendor", ["azure", "foundry"])
def test_stream_opens_with_prompt_filter_chunk(mock: MockServer, vendor: str) -> None:
    stream = client(mock, vendor).chat.completions.create(
        model="my-gpt", messages=[{"role": "user", "content": "Count from 1 to 5."}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices == [] and "prompt_filter_results" in (chunks[0].model_extra or {})
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)  # the doc's guarded loop
    assert text == "1 2 3 4 5"


def test_langchain_azure_chat_openai_invoke_and_stream_with_usage(mock: MockServer) -> None:
    llm = AzureChatOpenAI(
        azure_deployment="my-gpt",
        api_version=VERSIONS["azure"],
        azure_endpoint=mock.url("azure"),
        api_key=mock.keys["azure"],
        max_retries=0,
    )
    assert llm.invoke([HumanMessage(content="Count from 1 to 3.")]).content == "1 2 3"
    chunks = list(llm.stream([HumanMessage(content="Count from 1 to 3.")]))
    assert "".join(str(c.content) for c in chunks) == "1 2 3"
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["output_tokens"] == 3
    body = str(mock.requests("azure")[-1]["body"])
    assert '"include_usage":true' in body.replace(" ", "")


def test_foundry_model_inference_path_takes_model_from_body(mock: MockServer) -> None:
    url = mock.url("foundry") + "/models/chat/completions?api-version=2024-05-01-preview"
    body = {"model": "Mistral-Large-2411", "messages": [{"role": "user", "content": "Count from 1 to 2"}]}
    response = httpx.post(url, headers={"api-key": mock.keys["foundry"]}, json=body)
    assert response.status_code == 200
    assert response.json()["model"] == "Mistral-Large-2411"
    assert response.json()["choices"][0]["message"]["content"] == "1 2"
    missing = httpx.post(url, headers={"api-key": mock.keys["foundry"]}, json={"messages": body["messages"]})
    assert missing.status_code == 400


@pytest.mark.parametrize("vendor", ["azure", "foundry"])
def test_api_version_is_required(mock: MockServer, vendor: str) -> None:
    response = httpx.post(
        mock.url(vendor) + "/openai/deployments/my-gpt/chat/completions",
        headers={"api-key": mock.keys[vendor]},
        json={"messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "404"


@pytest.mark.parametrize("vendor", ["azure", "foundry"])
def test_wrong_key_is_authentication_error(mock: MockServer, vendor: str) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(mock, vendor, key="wrong").chat.completions.create(
            model="my-gpt", messages=[{"role": "user", "content": "x"}]
        )


def test_azure_embeddings(mock: MockServer) -> None:
    result = client(mock, "azure").embeddings.create(model="my-gpt", input="a b c", dimensions=4)
    assert len(result.data[0].embedding) == 4 and result.usage.prompt_tokens == 3
