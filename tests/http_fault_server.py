"""A real OpenAI-compatible HTTP server on loopback (stdlib ``http.server`` in a thread) whose replies depend on the
requested model name: healthy answers, or one fault per name (hang, trickle, flood, malformed JSON, retry storms).

It runs outside the test's event loop, so it serves ``Debate.run``, ``asyncio.run`` and the command line alike, and
it records every request's path, body and headers (for checking where credentials went).

    with FaultServer({"stuck": hang(), "drip": trickle()}) as server:   # any other model name answers well
        personas = [persona("a", f"ok@{server.url}"), persona("b", f"stuck@{server.url}")]
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agora import Persona

#: a fault writes the whole reply (status, headers, body) for one request
Fault = Callable[["_Handler", dict[str, Any], threading.Event], None]


@dataclass(frozen=True)
class Request:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]  # lower-case names

    @property
    def model(self) -> str:
        return str(self.body.get("model"))

    @property
    def size(self) -> int:
        return len(json.dumps(self.body))


def chat_body(text: str) -> dict[str, Any]:
    return {
        "model": "fault-server",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4},
    }


def healthy_text(body: dict[str, Any]) -> str:
    """A debate-shaped answer: a ranking when asked to vote, else an answer with a reason."""
    prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
    if "Ranking" in prompt or "rank" in prompt.lower():
        return "Ranking: A, B, C"
    return "Answer: yes. Because it helps most people."


def send(
    handler: _Handler, status: int, body: bytes | str | Any, headers: dict[str, str] | None = None
) -> None:
    raw = (
        body
        if isinstance(body, bytes)
        else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    )
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(raw)


# -- faults ------------------------------------------------------------------------------------------------------
def healthy() -> Fault:
    return lambda h, body, stop: send(h, 200, chat_body(healthy_text(body)))


def hang(seconds: float = 60.0) -> Fault:
    """Never answer (until the server stops)."""
    return lambda h, body, stop: stop.wait(seconds)


def trickle(every_s: float = 0.5) -> Fault:
    """Headers at once, then one byte of the body every ``every_s`` seconds."""

    def fault(h: _Handler, body: dict[str, Any], stop: threading.Event) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.flush()
        while not stop.wait(every_s):
            h.wfile.write(b" ")
            h.wfile.flush()

    return fault


def flood(total: int = 50 * 2**20, declare: bool = False) -> Fault:
    """A well-formed reply of ``total`` bytes, streamed in 1 MiB pieces (its length declared or not)."""

    def fault(h: _Handler, body: dict[str, Any], stop: threading.Event) -> None:
        head = b'{"choices":[{"message":{"role":"assistant","content":"Answer: yes. '
        tail = b'"}}]}'
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if declare:
            h.send_header("Content-Length", str(total))
        h.end_headers()
        h.wfile.write(head)
        left = total - len(head) - len(tail)
        piece = b"x" * 2**20
        while left > 0 and not stop.is_set():
            h.wfile.write(piece[: min(left, len(piece))])
            left -= len(piece)
        h.wfile.write(tail)

    return fault


def long_text(chars: int) -> Fault:
    """A valid reply of ``chars`` characters, whatever max_tokens asked (a server that ignores it)."""
    text = ("Answer: yes. Because " + "it helps. " * chars)[:chars]
    return lambda h, body, stop: send(h, 200, chat_body(text))


def reply(status: int, body: bytes | str | Any, headers: dict[str, str] | None = None) -> Fault:
    """Always the same reply."""
    return lambda h, _, stop: send(h, status, body, headers)


def then(first: Fault, times: int, after: Fault) -> Fault:
    """``first`` for the first ``times`` requests (of this model), then ``after``."""
    count = [0]
    lock = threading.Lock()

    def fault(h: _Handler, body: dict[str, Any], stop: threading.Event) -> None:
        with lock:
            count[0] += 1
            n = count[0]
        (first if n <= times else after)(h, body, stop)

    return fault


def past_date() -> str:
    return formatdate(0, usegmt=True)  # 1970: a Retry-After date already past


# -- the server --------------------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        owner = self.server.owner
        path = self.path.removeprefix("/v1")
        request = Request(path, body, {k.lower(): v for k, v in self.headers.items()})
        with owner.lock:
            owner.requests.append(request)
        fault = owner.faults.get(request.model, owner.default)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client stopped reading
            fault(self, body, owner.stop)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a debate opens many connections at once
    owner: FaultServer


class FaultServer:
    """Serves ``faults`` (model name -> fault); every other model name answers well."""

    def __init__(self, faults: dict[str, Fault] | None = None, default: Fault | None = None):
        self.faults = dict(faults or {})
        self.default = default or healthy()
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def of(self, model: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.model == model]


def persona(name: str, model: str, **endpoint: Any) -> Persona:
    """A persona built in Python whose model is ``model`` (``NAME@URL``), tuned by ``endpoint``."""
    return Persona(
        name=name,
        values={"fairness": 1},
        description=f"You are {name}.",
        model=model,
        endpoint=endpoint or None,
    )
