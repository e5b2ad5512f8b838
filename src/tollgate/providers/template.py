"""A template's two halves driven by its declarative `TemplateSpec`: `TemplateClientAPI` and `TemplateBackend`.

Custom templates get exactly these classes; each built-in template subclasses them only for its
quirks. Everything the spec names (regexes, JSON paths, headers) is compiled in `__init__`, so a bad
spec fails at snapshot compile, never on a request. `Template` pairs the two halves under one name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from tollgate.errors import GatewayError, ResourceValidationError
from tollgate.providers.base import Backend, ClientAPI, PassThrough, RequestFacts, StreamTap, Translator
from tollgate.providers.error_shapes import ERROR_SHAPERS, error_headers
from tollgate.providers.taps import JSONBodyTap, SSEUsageTap, UsageReader, lookup
from tollgate.resources.models import TemplateSpec
from tollgate.types import HeaderList, JSONObject
from tollgate.usage.record import UsageResult

__all__ = ["Template", "TemplateBackend", "TemplateClientAPI", "is_truthy", "reader_from_spec"]

#: Endpoints every template recognises by the end of the path (first match wins).
_ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("/chat/completions", "chat"),
    ("/responses", "responses"),
    ("/embeddings", "embeddings"),
    ("/messages", "messages"),
    ("/messages/count_tokens", "count_tokens"),
    (":generateContent", "generate_content"),
    (":streamGenerateContent", "generate_content"),
    (":embedContent", "embeddings"),
    (":countTokens", "count_tokens"),
)


def reader_from_spec(spec: TemplateSpec) -> UsageReader:
    """The usage reader a spec's dotted paths describe."""
    return UsageReader.from_spec(spec)


def is_truthy(value: object) -> bool:
    """JSON truthiness as a lenient upstream applies it: `"stream": 1` or `"yes"` asks for a stream."""
    return value is True or (value is not None and value is not False and bool(value))


def _compile(template: str, field: str, pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ResourceValidationError(
            f"ProviderTemplate/{template}", field, f"invalid regular expression: {exc}"
        ) from exc


class TemplateClientAPI:
    """The client half of a template: request facts and error shapes; immutable, shared by every request.

    Parameters:
        name: the template name (`openai`, or a custom template's name); the client API family.
        spec: model and stream detection, client credential headers, error format.
        no_body_paths: paths whose POST bodies are not JSON (uploads); `reads_body` is False there.
    """

    client_key_query_params: tuple[str, ...] = ()

    def __init__(self, name: str, spec: TemplateSpec, *, no_body_paths: re.Pattern[str] | None = None) -> None:
        self.name = name
        self.client_key_headers: tuple[bytes, ...] = tuple(
            dict.fromkeys(h.strip().lower().encode("latin-1") for h in spec.client_key_headers if h.strip())
        )
        model = spec.request_model
        self._model_field = tuple(model.body_field.split(".")) if model.body_field else None
        self._model_re = _compile(name, "spec.requestModel.pathPattern", model.path_pattern)
        streaming = spec.streaming
        self._stream_flag = tuple(streaming.body_flag.split(".")) if streaming.body_flag else None
        self._stream_re = _compile(name, "spec.streaming.pathPattern", streaming.path_pattern)
        self._no_body_re = no_body_paths
        self._shaper = ERROR_SHAPERS[spec.error_format]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def endpoint(self, path: str) -> str:
        for suffix, endpoint in _ENDPOINTS:
            if path.endswith(suffix):
                return endpoint
        return "other"

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
        """Model from the path pattern, else a non-empty string in the body field; stream from the path,
        else any truthy body flag (a lenient upstream streams for `"stream": 1` too)."""
        model = self.path_model(path)
        if model is None and body is not None and self._model_field is not None:
            value = lookup(body, self._model_field)
            if isinstance(value, str) and value:
                model = value
        streaming = self._stream_re is not None and self._stream_re.search(path) is not None
        if not streaming and body is not None and self._stream_flag is not None:
            streaming = is_truthy(lookup(body, self._stream_flag))
        return RequestFacts(model=model, is_streaming=streaming)

    def error_response(self, err: GatewayError, request_id: str) -> tuple[int, HeaderList, bytes]:
        return err.status, error_headers(err), self._shaper.body(err, request_id)

    def stream_error_frame(self, err: GatewayError) -> bytes | None:
        return self._shaper.frame(err)


class TemplateBackend:
    """The vendor half of a template: credential placement, default headers, usage reading.

    Immutable, shared by every request. Parameters:
        name: the template name; the backend family.
        spec: base URL, credential placement, default headers, usage and response-model paths.
        reader: overrides the usage reader built from `spec` (vendor quirks).
        pass_through: the translator for clients of the same API (default: no translation at all).
    """

    array_streams = False

    def __init__(
        self,
        name: str,
        spec: TemplateSpec,
        *,
        reader: UsageReader | None = None,
        pass_through: Translator | None = None,
    ) -> None:
        self.name = name
        self.spec = spec
        self.default_base_url: str | None = spec.base_url.rstrip("/") if spec.base_url else None
        self.default_headers: HeaderList = [
            (k.strip().lower().encode("latin-1"), v.encode("latin-1")) for k, v in spec.default_headers.items()
        ]
        self.reader = reader if reader is not None else reader_from_spec(spec)
        self.pass_through: Translator = pass_through if pass_through is not None else PassThrough(name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def upstream_credential(self, secret: str) -> tuple[HeaderList, list[tuple[str, str]]]:
        """The credential as the spec places it: one header, or one query parameter."""
        placement = self.spec.credential
        value = placement.prefix + secret
        if placement.location == "query":
            return [], [(placement.name, value)]
        return [(placement.name.strip().lower().encode("latin-1"), value.encode("latin-1"))], []

    def usage_from_json(self, body: bytes, fallback_model: str | None) -> UsageResult:
        return self.reader.result(body, fallback_model)

    def new_stream_tap(self, fallback_model: str | None) -> StreamTap:
        return SSEUsageTap(self.reader, fallback_model)

    def new_body_tap(self, fallback_model: str | None) -> StreamTap:
        return JSONBodyTap(self.reader, fallback_model)


@dataclass(frozen=True, slots=True)
class Template:
    """A provider template compiled: its client API and its backend, under the template's name."""

    name: str
    client: ClientAPI
    backend: Backend

    @property
    def default_base_url(self) -> str | None:
        return self.backend.default_base_url
