"""Deterministic reply text, token counts and embedding vectors for the mocks.

Token counts are whitespace words (prompt: every text field of the request; completion: the reply),
so a test can predict exactly what each vendor reports. Nothing here pretends to be a tokenizer.
"""

from __future__ import annotations

import hashlib
import math
import random
import re

from tollgate.types import JSONValue

#: Keys whose string values count as prompt text, wherever they sit in a request body.
TEXT_KEYS = frozenset({"content", "text", "input", "system", "instructions", "prompt"})
DIRECTIVE_RE = re.compile(r"\[mock:([a-z_-]+)(?:=([^\]\s]*))?\]")
_COUNT_RE = re.compile(r"count\s+from\s+(-?\d+)\s+to\s+(-?\d+)", re.IGNORECASE)
_MAX_COUNT = 1000
_WORD_RE = re.compile(r"\w+")


def collect_text(value: JSONValue, *, under_text_key: bool = True) -> list[str]:
    """Every string of `value` that sits under a text key (or is `value` itself), in order."""
    if isinstance(value, str):
        return [value] if under_text_key else []
    if isinstance(value, list):
        return [s for item in value for s in collect_text(item, under_text_key=under_text_key)]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in collect_text(item, under_text_key=key in TEXT_KEYS)]
    return []


def count_words(text: str) -> int:
    """The mock's token count: whitespace-separated words."""
    return len(text.split())


def prompt_tokens(body: JSONValue) -> int:
    """Prompt tokens of a request body: the words of all its text fields."""
    return sum(count_words(s) for s in collect_text(body, under_text_key=False))


def last_user_text(messages: JSONValue, *, user_roles: tuple[str | None, ...] = ("user",)) -> str:
    """The text of the last message whose `role` is in `user_roles` (None matches a missing role)."""
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") in user_roles:
            return " ".join(collect_text(message.get("content", message.get("parts"))))
    return ""


def strip_directives(text: str) -> str:
    """`text` without its `[mock:...]` directives."""
    return " ".join(DIRECTIVE_RE.sub(" ", text).split())


def reply_text(label: str, prompt: str, *, echo: bool = False, min_words: int = 0) -> str:
    """The deterministic reply to `prompt` (the last user message).

    "Count from A to B" answers the numbers; `echo` answers the prompt without directives; anything
    else answers "Hello from the mock <label> API.". Padded with filler words up to `min_words`.
    """
    clean = strip_directives(prompt)
    match = _COUNT_RE.search(clean)
    if echo and clean:
        text = clean
    elif match:
        start, stop = int(match.group(1)), int(match.group(2))
        step = 1 if stop >= start else -1
        text = " ".join(str(n) for n in range(start, stop + step, step)[:_MAX_COUNT])
    else:
        text = f"Hello from the mock {label} API."
    words = text.split(" ")
    words += [f"word{i}" for i in range(len(words) + 1, min_words + 1)]
    return " ".join(words)


def split_chunks(text: str, chunks: int | None, chars: int | None = None) -> list[str]:
    """`text` cut at word boundaries into `chunks` pieces (default: one per word) that join back to it;
    with `chars`, into pieces of that many characters instead (cutting inside words)."""
    if chars:
        return [text[i : i + chars] for i in range(0, len(text), chars)] or [""]
    words = text.split(" ")
    count = max(1, min(chunks or len(words), len(words)))
    pieces: list[str] = []
    for i in range(count):
        group = words[i * len(words) // count : (i + 1) * len(words) // count]
        pieces.append(("" if i == 0 else " ") + " ".join(group))
    return pieces


def _word_vector(word: str, dimensions: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    return [rng.gauss(0.0, 1.0) for _ in range(dimensions)]


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text` whose cosine similarity means something: the normalised sum of
    one pseudo-random vector per word (lower-cased, punctuation ignored), so texts sharing most of their
    words are close (about shared / sqrt(words_a * words_b)) and unrelated texts are near 0. A text
    without words gets a vector seeded by the whole text."""
    size = max(1, dimensions)
    words = _WORD_RE.findall(text.lower())
    if words:
        values = [0.0] * size
        for word in words:
            for i, v in enumerate(_word_vector(word, size)):
                values[i] += v
    else:
        values = _word_vector(text, size)
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]
