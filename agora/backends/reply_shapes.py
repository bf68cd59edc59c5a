"""Reading the fields agora needs from an endpoint's JSON reply, and saying exactly what is wrong when they are not
there: not JSON, JSON of the wrong type, no ``choices``, an empty ``choices``, no ``message``, ``content`` that is
not text, or log-probabilities of the wrong shape. Each problem is a :class:`MalformedReply` whose message is one
line (the backend adds the endpoint's URL).

It also bounds what is recorded: :func:`cap_text` cuts a reply that is longer than its token budget could be
(``max_tokens`` times :data:`MAX_CHARS_PER_TOKEN` characters), for servers that ignore ``max_tokens``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from agora.backends.http_reply import snippet

#: the most characters one token is taken to span; a reply longer than max_tokens times this is cut there. Generous
#: (English averages about four characters a token), so a reply that kept to its budget is never cut
MAX_CHARS_PER_TOKEN = 16


class MalformedReply(ValueError):
    """The reply does not have the shape the OpenAI API gives it; the message says what is wrong."""


class NoLogprobs(MalformedReply):
    """A completion reply without prompt log-probabilities: the server does not offer them."""


def kind(value: object) -> str:
    """The JSON type of ``value``, for messages (``a list``, ``null``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_json(body: bytes) -> Any:
    """The reply's JSON value."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        shown = f": {snippet(body, 60)!r}" if body.strip() else ""
        raise MalformedReply(f"the reply is not JSON ({len(body)} bytes{shown})") from None


def first_choice(data: Any) -> dict[str, Any]:
    """``choices[0]`` of a reply, checked to be an object."""
    if not isinstance(data, dict):
        raise MalformedReply(f"the reply is {kind(data)}, not a JSON object")
    if "choices" not in data:
        error = data.get("error")
        said = f" (it says: {snippet(json.dumps(error), 120)})" if error is not None else ""
        raise MalformedReply(f"the reply has no 'choices'{said}")
    choices = data["choices"]
    if not isinstance(choices, list):
        raise MalformedReply(f"the reply's 'choices' is {kind(choices)}, not a list")
    if not choices:
        raise MalformedReply("the reply's 'choices' is empty")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise MalformedReply(f"the reply's choices[0] is {kind(choice)}, not an object")
    return choice


def chat_text(data: Any) -> tuple[str, str | None]:
    """``(choices[0].message.content, choices[0].finish_reason)`` of a chat completion."""
    choice = first_choice(data)
    if "message" not in choice:
        raise MalformedReply("the reply's choices[0] has no 'message'")
    message = choice["message"]
    if not isinstance(message, dict):
        raise MalformedReply(f"the reply's choices[0].message is {kind(message)}, not an object")
    if "content" not in message:
        raise MalformedReply("the reply's choices[0].message has no 'content'")
    content = message["content"]
    if not isinstance(content, str):
        raise MalformedReply(f"the reply's choices[0].message.content is {kind(content)}, not text")
    finish = choice.get("finish_reason")
    return content, finish if isinstance(finish, str) else None


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if 0 <= value < 2**53 else None


def usage(data: Any) -> tuple[int, int]:
    """``(prompt_tokens, completion_tokens)`` of ``usage``; a missing or malformed count is 0 (usage is optional)."""
    block = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(block, dict):
        return 0, 0
    return _count(block.get("prompt_tokens")) or 0, _count(block.get("completion_tokens")) or 0


def prompt_logprobs(data: Any) -> tuple[list[int], list[float | None], list[str], int]:
    """``(text_offset, token_logprobs, tokens, generated tokens)`` of an echoed completion, checked.

    Raises :class:`NoLogprobs` when the reply has none, :class:`MalformedReply` when they have the wrong shape.
    """
    choice = first_choice(data)
    logprobs = choice.get("logprobs")
    if logprobs is None:
        raise NoLogprobs("the reply has no prompt log-probabilities")
    if not isinstance(logprobs, dict):
        raise MalformedReply(f"the reply's choices[0].logprobs is {kind(logprobs)}, not an object")
    offsets, values = logprobs.get("text_offset"), logprobs.get("token_logprobs")
    if offsets is None or values is None or offsets == [] or values == []:
        raise NoLogprobs("the reply has no prompt log-probabilities")
    for name, items in (("text_offset", offsets), ("token_logprobs", values)):
        if not isinstance(items, list):
            raise MalformedReply(f"the reply's logprobs.{name} is {kind(items)}, not a list")
    if len(offsets) != len(values):
        raise MalformedReply(
            f"the reply's logprobs.text_offset has {len(offsets)} entries but token_logprobs {len(values)}"
        )
    for i, offset in enumerate(offsets):
        if _count(offset) is None:
            raise MalformedReply(
                f"the reply's logprobs.text_offset[{i}] is {offset!r}, not a character offset"
            )
    for i, value in enumerate(values):
        ok = value is None or (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and not math.isnan(value)
            and value <= 1e-3
        )
        if not ok:
            raise MalformedReply(
                f"the reply's logprobs.token_logprobs[{i}] is {value!r}, not a log-probability"
            )
    tokens = logprobs.get("tokens") or []
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise MalformedReply("the reply's logprobs.tokens is not a list of strings")
    block = data.get("usage")
    generated = _count(block.get("completion_tokens")) if isinstance(block, dict) else None
    return (
        [int(o) for o in offsets],
        [None if v is None else float(v) for v in values],
        tokens,
        1 if generated is None else generated,
    )


def cap_text(text: str, max_tokens: int) -> tuple[str, bool]:
    """``text`` cut to what ``max_tokens`` tokens could span, and whether it was cut."""
    limit = max(max_tokens, 1) * MAX_CHARS_PER_TOKEN
    return (text[:limit], True) if len(text) > limit else (text, False)
