"""Tool calls (streamed argument deltas) and images on every vendor mock, through the real SDKs."""

from __future__ import annotations

import base64
import json

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types
from mistralai.client import Mistral

from tollgate.mock import MockServer

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
PNG_SIZE = len(base64.b64decode(PNG_B64))
PROMPT = "What is the weather in Paris today?"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["c", "f"]}},
    "required": ["city"],
}
ARGS = {"city": PROMPT, "days": 1, "unit": "c"}
OPENAI_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": SCHEMA}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]


def oai(mock: MockServer) -> openai.OpenAI:
    return openai.OpenAI(api_key=mock.keys["openai"], base_url=mock.url("openai") + "/v1", max_retries=0)


def test_openai_tool_call_then_tool_result(mock: MockServer) -> None:
    api = oai(mock)
    messages: list = [{"role": "user", "content": PROMPT}]
    first = api.chat.completions.create(model="gpt-4o", messages=messages, tools=OPENAI_TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("get_weather", ARGS)]
    assert calls[0].id.startswith("call_")
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"},
    ]
    second = api.chat.completions.create(model="gpt-4o", messages=messages, tools=OPENAI_TOOLS)
    assert second.choices[0].message.content == "Tool results: sunny"
    assert second.choices[0].finish_reason == "stop"


def test_openai_streamed_tool_calls_split_arguments_and_arrive_whole(mock: MockServer) -> None:
    api = oai(mock)
    raw = list(
        api.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": PROMPT + " [mock:tool-calls=2]"}],
            tools=OPENAI_TOOLS,
            stream=True,
        )
    )
    argument_deltas = [
        c for c in raw if c.choices and c.choices[0].delta.tool_calls and c.choices[0].delta.tool_calls[0].id is None
    ]
    assert len(argument_deltas) > 10
    with api.chat.completions.stream(
        model="gpt-4o", messages=[{"role": "user", "content": PROMPT + " [mock:tool-calls=2]"}], tools=OPENAI_TOOLS
    ) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", ARGS),
        ("get_time", {}),
    ]
    assert final.choices[0].finish_reason == "tool_calls"


def test_openai_forced_tool_and_no_tools_when_none(mock: MockServer) -> None:
    api = oai(mock)
    forced = api.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "x"}],
        tools=OPENAI_TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert [c.function.name for c in forced.choices[0].message.tool_calls or []] == ["get_time"]
    plain = api.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "x"}], tools=OPENAI_TOOLS, tool_choice="none"
    )
    assert plain.choices[0].message.content == "Hello from the mock OpenAI API."


def test_openai_rejects_tool_messages_without_their_call(mock: MockServer) -> None:
    with pytest.raises(openai.BadRequestError, match="must be a response to a preceeding message"):
        oai(mock).chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope", "content": "y"}],
        )


def test_openai_images_base64_and_url(mock: MockServer) -> None:
    content = [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    response = oai(mock).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])
    assert response.choices[0].message.content == (
        f"Hello from the mock OpenAI API. [images: image/png {PNG_SIZE} bytes, https://example.com/cat.jpg]"
    )
    with pytest.raises(openai.BadRequestError, match="Invalid image data"):
        oai(mock).chat.completions.create(
            model="gpt-4o",
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]}
            ],
        )


def test_azure_streamed_tool_call(mock: MockServer) -> None:
    api = openai.AzureOpenAI(
        api_key=mock.keys["azure"], azure_endpoint=mock.url("azure"), api_version="2024-10-21", max_retries=0
    )
    with api.chat.completions.stream(
        model="my-gpt", messages=[{"role": "user", "content": PROMPT}], tools=OPENAI_TOOLS
    ) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("get_weather", ARGS)]


ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}]


def ant(mock: MockServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=mock.keys["anthropic"], base_url=mock.url("anthropic"), max_retries=0)


def test_anthropic_tool_use_then_tool_result(mock: MockServer) -> None:
    api = ant(mock)
    first = api.messages.create(
        model="claude-sonnet-4-5", max_tokens=100, tools=ANTHROPIC_TOOLS, messages=[{"role": "user", "content": PROMPT}]
    )
    assert first.stop_reason == "tool_use"
    use = first.content[0]
    assert use.type == "tool_use" and use.name == "get_weather" and use.input == ARGS and use.id.startswith("toolu_01")
    second = api.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=100,
        tools=ANTHROPIC_TOOLS,
        messages=[
            {"role": "user", "content": PROMPT},
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
        ],
    )
    assert second.content[0].type == "text" and second.content[0].text == "Tool results: sunny"
    with pytest.raises(anthropic.BadRequestError, match="without `tool_result` blocks"):
        api.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=100,
            messages=[
                {"role": "user", "content": PROMPT},
                {"role": "assistant", "content": first.content},
                {"role": "user", "content": "?"},
            ],
        )


def test_anthropic_streamed_tool_use_input_json_deltas(mock: MockServer) -> None:
    with ant(mock).messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, tools=ANTHROPIC_TOOLS, messages=[{"role": "user", "content": PROMPT}]
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    deltas = [e for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
    assert len(deltas) > 10
    assert final.stop_reason == "tool_use" and final.content[0].type == "tool_use" and final.content[0].input == ARGS


def test_anthropic_images(mock: MockServer) -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "text", "text": "What is this?"},
    ]
    response = ant(mock).messages.create(
        model="claude-sonnet-4-5", max_tokens=50, messages=[{"role": "user", "content": content}]
    )
    assert (
        response.content[0].text
        == f"Hello from the mock Anthropic API. [images: image/png {PNG_SIZE} bytes, https://example.com/a.png]"
    )  # type: ignore[union-attr]
    bad = [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": PNG_B64}}]
    with pytest.raises(anthropic.BadRequestError, match="media_type"):
        ant(mock).messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=[{"role": "user", "content": bad}])


def gem(mock: MockServer) -> genai.Client:
    return genai.Client(api_key=mock.keys["gemini"], http_options=genai_types.HttpOptions(base_url=mock.url("gemini")))


GEMINI_TOOL = genai_types.Tool(
    function_declarations=[
        genai_types.FunctionDeclaration(name="get_weather", description="Weather", parameters_json_schema=SCHEMA)
    ]
)


def test_gemini_function_call_stream_and_response(mock: MockServer) -> None:
    api = gem(mock)
    config = genai_types.GenerateContentConfig(
        tools=[GEMINI_TOOL], automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True)
    )
    response = api.models.generate_content(model="gemini-2.5-flash", contents=PROMPT, config=config)
    calls = response.function_calls or []
    assert [(c.name, c.args) for c in calls] == [("get_weather", ARGS)]
    chunks = list(api.models.generate_content_stream(model="gemini-2.5-flash", contents=PROMPT, config=config))
    assert [(c.name, c.args) for chunk in chunks for c in chunk.function_calls or []] == [("get_weather", ARGS)]
    follow = api.models.generate_content(
        model="gemini-2.5-flash",
        contents=[
            genai_types.Content(role="user", parts=[genai_types.Part(text=PROMPT)]),
            response.candidates[0].content,  # type: ignore[index]
            genai_types.Content(
                role="user",
                parts=[genai_types.Part.from_function_response(name="get_weather", response={"result": "sunny"})],
            ),
        ],
        config=config,
    )
    assert follow.text == 'Tool results: {"result":"sunny"}'


def test_gemini_inline_image(mock: MockServer) -> None:
    api = gem(mock)  # keep a reference: a dropped genai.Client closes its transport
    response = api.models.generate_content(
        model="gemini-2.5-flash",
        contents=[genai_types.Part.from_bytes(data=base64.b64decode(PNG_B64), mime_type="image/png"), "What is this?"],
    )
    assert response.text == f"Hello from the mock Gemini API. [images: image/png {PNG_SIZE} bytes]"


def test_mistral_whole_tool_calls_complete_and_stream(mock: MockServer) -> None:
    api = Mistral(api_key=mock.keys["mistral"], server_url=mock.url("mistral"))
    response = api.chat.complete(
        model="mistral-small-latest", messages=[{"role": "user", "content": PROMPT}], tools=OPENAI_TOOLS
    )
    calls = response.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(str(c.function.arguments))) for c in calls] == [("get_weather", ARGS)]
    assert len(calls[0].id or "") == 9 and response.choices[0].finish_reason == "tool_calls"
    with api.chat.stream(
        model="mistral-small-latest", messages=[{"role": "user", "content": PROMPT}], tools=OPENAI_TOOLS
    ) as stream:
        events = list(stream)
    streamed = [tc for e in events for tc in (e.data.choices[0].delta.tool_calls or [])]
    assert [(c.function.name, json.loads(str(c.function.arguments))) for c in streamed] == [("get_weather", ARGS)]
    image = api.chat.complete(
        model="mistral-small-latest",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hi"},
                    {"type": "image_url", "image_url": "https://example.com/x.png"},
                ],
            }
        ],
    )
    assert image.choices[0].message.content == "Hello from the mock Mistral API. [images: https://example.com/x.png]"
