"""Shapes of OpenAI's Responses API (`POST /v1/responses`): the response object and its SSE events.

Every event carries an `event:` line and a growing `sequence_number`; there is no `[DONE]`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tollgate.mock.stream import StreamPlan, cut_index
from tollgate.mock.wire import sse_frame
from tollgate.types import JSONObject, JSONValue

if TYPE_CHECKING:
    from tollgate.mock.openai import ChatReply


def _message_id(reply: ChatReply) -> str:
    return "msg_" + reply.id.removeprefix("resp_")


def _text_part(text: str) -> JSONObject:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message(reply: ChatReply, *, completed: bool) -> JSONObject:
    return {
        "id": _message_id(reply),
        "type": "message",
        "status": "completed" if completed else "in_progress",
        "role": "assistant",
        "content": [_text_part(reply.text)] if completed else [],
    }


def usage_object(reply: ChatReply) -> JSONObject:
    return {
        "input_tokens": reply.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": reply.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def response_object(reply: ChatReply, request: JSONObject, *, completed: bool) -> JSONObject:
    """The `response` object, `completed` with its output and usage, or `in_progress` and empty."""
    return {
        "id": reply.id,
        "object": "response",
        "created_at": reply.created,
        "status": "completed" if completed else "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": reply.model,
        "output": [_message(reply, completed=True)] if completed else [],
        "parallel_tool_calls": True,
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage_object(reply) if completed else None,
        "user": None,
        "metadata": request.get("metadata") or {},
    }


def stream_plan(reply: ChatReply, request: JSONObject) -> StreamPlan:
    """created, in_progress, output_item.added, content_part.added, N x output_text.delta,
    output_text.done, content_part.done, output_item.done, completed."""
    seq = iter(range(1_000_000))
    item_id = _message_id(reply)
    where: JSONObject = {"item_id": item_id, "output_index": 0, "content_index": 0}

    def event(kind: str, fields: JSONObject) -> bytes:
        return sse_frame({"type": kind, "sequence_number": next(seq), **fields}, event=kind)

    head = [
        event("response.created", {"response": response_object(reply, request, completed=False)}),
        event("response.in_progress", {"response": response_object(reply, request, completed=False)}),
        event("response.output_item.added", {"output_index": 0, "item": _message(reply, completed=False)}),
        event("response.content_part.added", {**where, "part": _text_part("")}),
    ]
    body = [event("response.output_text.delta", {**where, "delta": piece, "logprobs": []}) for piece in reply.pieces]
    error_seq = len(head) + cut_index(len(body))
    tail = [
        event("response.output_text.done", {**where, "text": reply.text, "logprobs": []}),
        event("response.content_part.done", {**where, "part": _text_part(reply.text)}),
        event("response.output_item.done", {"output_index": 0, "item": _message(reply, completed=True)}),
        event("response.completed", {"response": response_object(reply, request, completed=True)}),
    ]
    error: JSONValue = {
        "type": "error",
        "code": "server_error",
        "message": "The server had an error while processing your request.",
        "param": None,
        "sequence_number": error_seq,
    }
    return StreamPlan(head=head, body=body, tail=tail, error=sse_frame(error, event="error"))
