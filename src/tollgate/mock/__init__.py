"""Faithful mock vendor APIs (OpenAI, Anthropic, Gemini, Mistral, Azure OpenAI, Azure AI Foundry).

Used by the demo and every end-to-end test: the real SDKs talk to the gateway, the gateway talks to
these mocks. Replies are deterministic text, not a model; see `app.create_app` and `server.MockServer`.
"""

from tollgate.mock.app import create_app
from tollgate.mock.server import MockServer
from tollgate.mock.state import DEFAULT_KEYS, PREFIXES, VENDORS, MockState

__all__ = ["DEFAULT_KEYS", "PREFIXES", "VENDORS", "MockServer", "MockState", "create_app"]
