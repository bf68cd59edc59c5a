"""Reading one HTTP reply from an endpoint within limits, and saying in one line what went wrong.

- :func:`read_reply` streams the body and stops past a byte limit (:data:`MAX_REPLY_BYTES` unless the backend is
  given another), so a server cannot make agora hold, record or pass on a reply of any size; an error reply's body
  is read only as far as its first :data:`ERROR_BYTES`.
- :func:`parse_retry_after` reads a ``Retry-After`` header (seconds or an HTTP date) and rejects what is not a
  finite, non-negative wait (``nan``, ``inf``, ``-1``, garbage), so a server cannot make a retry hang.
- :func:`transport_problem` and :func:`snippet` turn failures and server text into one printable line.

The deadline of a whole attempt is the caller's (:class:`~agora.backends.openai_backend.OpenAIBackend` runs
:func:`read_reply` under ``asyncio.wait_for``); :class:`Received` lets it say how far the attempt got.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from agora.errors import one_line

#: the most bytes of a reply that agora reads (4 MiB); a reply that is longer fails the request
MAX_REPLY_BYTES = 4 * 2**20
#: the most bytes of an error reply (status 300 or more) that are read, for its message
ERROR_BYTES = 8192
#: the longest wait a ``Retry-After`` header can ask for; longer requests are cut to this
MAX_RETRY_AFTER_S = 60.0

_SECONDS = re.compile(r"^\d{1,12}(\.\d{1,9})?$")


class ReplyTooLarge(Exception):
    """The reply was longer than the byte limit; reading stopped there."""


@dataclass
class Received:
    """How far one attempt got: its HTTP status once the headers came, and the body's bytes so far."""

    status: int | None = None
    bytes: int = 0


@dataclass(frozen=True)
class RawReply:
    status: int
    headers: httpx.Headers
    body: bytes


async def read_reply(
    client: httpx.AsyncClient,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    max_bytes: int,
    received: Received,
) -> RawReply:
    """POST ``payload`` as JSON and read the reply, at most ``max_bytes`` of it (raises :class:`ReplyTooLarge`)."""
    async with client.stream("POST", url, json=payload, headers=headers) as response:
        received.status = response.status_code
        ok = response.status_code < 300
        limit = max_bytes if ok else min(max_bytes, ERROR_BYTES)
        declared = response.headers.get("content-length", "")
        if ok and declared.isdigit() and int(declared) > max_bytes:
            raise ReplyTooLarge(f"the reply is {int(declared)} bytes, more than the {max_bytes} agora reads")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            received.bytes = len(body)
            if len(body) > limit:
                if ok:
                    raise ReplyTooLarge(f"the reply passed {max_bytes} bytes, the most agora reads")
                del body[limit:]
                break
        return RawReply(response.status_code, response.headers, bytes(body))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (0 for a date in the past), or None when the header
    is missing or is neither a non-negative number of seconds nor an HTTP date. The caller caps it."""
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.match(text):
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:  # pragma: no cover - older Pythons return None instead of raising
            return None
        try:
            stamp = when.timestamp()
        except (OverflowError, OSError, ValueError):
            return None
        seconds = max(stamp - (time.time() if now is None else now), 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


_TRANSPORT = {
    "ConnectError": "cannot connect",
    "ConnectTimeout": "no connection within the timeout",
    "ReadError": "the connection broke while the reply was being read",
    "WriteError": "the connection broke while the request was being sent",
    "RemoteProtocolError": "the server broke off the reply or did not speak HTTP",
    "LocalProtocolError": "the request could not be sent as HTTP",
    "ProxyError": "the proxy refused the request",
    "UnsupportedProtocol": "the URL's scheme is not http or https",
}


def transport_problem(exc: BaseException) -> str:
    """One line for a failed connection: the exception's name and its message, or what that kind means."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    return f"{name}: {snippet(text) if text else _TRANSPORT.get(name, 'the connection failed')}"


def snippet(text: str | bytes, limit: int = 200) -> str:
    """At most ``limit`` characters of server-sent text on one line, control characters escaped."""
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("utf-8", errors="replace")
    text = one_line(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"
