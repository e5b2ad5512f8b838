"""`TemplateProvider`: a ProviderAdapter driven entirely by a declarative `TemplateSpec`.

Custom templates get exactly this class; each built-in template subclasses it only for its quirks.
Everything the spec names (regexes, JSON paths, headers) is compiled in `__init__`, so a bad spec
fails at snapshot compile, never on a request.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from tollgate.errors import GatewayError, ResourceValidationError
from tollgate.providers.base import RequestFacts, RequestRewrite, StreamTap
from tollgate.providers.error_shapes import ERROR_SHAPERS, error_headers
from tollgate.providers.taps import SSEUsageTap, UsageReader, lookup
from tollgate.resources.models import TemplateSpec
from tollgate.types import HeaderList, JSONObject
from tollgate.usage.record import UsageResult

__all__ = ["TemplateProvider", "reader_from_spec"]


def reader_from_spec(spec: TemplateSpec) -> UsageReader:
    """The usage reader a spec's dotted paths describe."""
    usage = spec.usage
    return UsageReader(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, spec.response_model)


def _compile(template: str, field: str, pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ResourceValidationError(
            f"ProviderTemplate/{template}", field, f"invalid regular expression: {exc}"
        ) from exc


class TemplateProvider:
    """A generic, immutable vendor adapter; one per template, shared by every request.

    Parameters:
        name: the template name (`openai`, or a custom template's name).
        spec: the template: credential placement, model and stream detection, usage paths, errors.
        reader: overrides the usage reader built from `spec` (vendor quirks).
        no_body_paths: paths whose POST bodies are not JSON (uploads); `reads_body` is False there.
    """

    def __init__(
        self,
        name: str,
        spec: TemplateSpec,
        *,
        reader: UsageReader | None = None,
        no_body_paths: re.Pattern[str] | None = None,
    ) -> None:
        self.name = name
        self.spec = spec
        self.default_base_url: str | None = spec.base_url.rstrip("/") if spec.base_url else None
        self.client_key_headers: tuple[bytes, ...] = tuple(
            dict.fromkeys(h.strip().lower().encode("latin-1") for h in spec.client_key_headers if h.strip())
        )
        self.default_headers: HeaderList = [
            (k.strip().lower().encode("latin-1"), v.encode("latin-1")) for k, v in spec.default_headers.items()
        ]
        model = spec.request_model
        self._model_field = tuple(model.body_field.split(".")) if model.body_field else None
        self._model_re = _compile(name, "spec.requestModel.pathPattern", model.path_pattern)
        streaming = spec.streaming
        self._stream_flag = tuple(streaming.body_flag.split(".")) if streaming.body_flag else None
        self._stream_re = _compile(name, "spec.streaming.pathPattern", streaming.path_pattern)
        self._no_body_re = no_body_paths
        self.reader = reader if reader is not None else reader_from_spec(spec)
        self._shaper = ERROR_SHAPERS[spec.error_format]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # --- request facts ---------------------------------------------------------------------------

    def reads_body(self, method: str, path: str) -> bool:
        """True for a POST whose model or stream flag must come from the JSON body."""
        if method != "POST" or (self._no_body_re is not None and self._no_body_re.search(path)):
            return False
        model_in_path = self._model_re is not None and self._model_re.search(path) is not None
        stream_in_path = self._stream_re is not None and self._stream_re.search(path) is not None
        return (self._model_field is not None and not model_in_path) or (
            self._stream_flag is not None and not stream_in_path
        )

    def path_model(self, path: str) -> str | None:
        """The model named by the path pattern, URL-decoded; None when the pattern does not match."""
        if self._model_re is None:
            return None
        match = self._model_re.search(path)
        if match is None or not match.group(1):
            return None
        value = match.group(1)
        return unquote(value) if "%" in value else value

    def request_facts(self, path: str, query: str, body: JSONObject | None) -> RequestFacts:
        """Model from the path pattern, else from the body field; stream from the path, else the body flag."""
        model = self.path_model(path)
        if model is None and body is not None and self._model_field is not None:
            value = lookup(body, self._model_field)
            if isinstance(value, str) and value:
                model = value
        streaming = self._stream_re is not None and self._stream_re.search(path) is not None
        if not streaming and body is not None and self._stream_flag is not None:
            streaming = lookup(body, self._stream_flag) is True
        return RequestFacts(model=model, is_streaming=streaming)

    def rewrite_request(
        self, path: str, query: str, body: JSONObject | None, facts: RequestFacts
    ) -> RequestRewrite | None:
        """A declarative template never changes the request."""
        return None

    def upstream_credential(self, secret: str) -> tuple[HeaderList, list[tuple[str, str]]]:
        """The credential as the spec places it: one header, or one query parameter."""
        placement = self.spec.credential
        value = placement.prefix + secret
        if placement.location == "query":
            return [], [(placement.name, value)]
        return [(placement.name.strip().lower().encode("latin-1"), value.encode("latin-1"))], []

    # --- usage -----------------------------------------------------------------------------------

    def usage_from_json(self, body: bytes, facts: RequestFacts) -> UsageResult:
        return self.reader.result(body, facts.model)

    def new_stream_tap(self, facts: RequestFacts, drop_usage_chunk: bool) -> StreamTap:
        """An SSE tap that only reads; a declarative template never drops events."""
        return SSEUsageTap(self.reader, facts.model)

    # --- errors ----------------------------------------------------------------------------------

    def error_response(self, err: GatewayError, request_id: str) -> tuple[int, HeaderList, bytes]:
        return err.status, error_headers(err), self._shaper.body(err, request_id)

    def stream_error_frame(self, err: GatewayError) -> bytes | None:
        return self._shaper.frame(err)
