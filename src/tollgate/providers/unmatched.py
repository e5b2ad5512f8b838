"""The client API of a request that matched no route (404), guessed from its vendor path.

A client pointed at a wrong context still gets its own SDK's exception with a readable message.
"""

from __future__ import annotations

from tollgate.providers.anthropic import anthropic_template
from tollgate.providers.base import ClientAPI
from tollgate.providers.gemini import gemini_template
from tollgate.providers.openai import openai_template

__all__ = ["client_api_for_unmatched"]

_ANTHROPIC = anthropic_template().client
_GEMINI = gemini_template().client
_OPENAI = openai_template().client


def client_api_for_unmatched(path: str) -> ClientAPI:
    """Anthropic for `/messages` paths, Gemini for `models/...:method` paths, else OpenAI."""
    if path.endswith("/messages") or "/messages/" in path:
        return _ANTHROPIC
    if "Content" in path or ("/models/" in path and ":" in path):
        return _GEMINI
    return _OPENAI
