"""A tiny OpenAI-compatible HTTP server on loopback for backend tests: each request is answered by a Python handler.

async with StubServer(handler) as server:   # handler(path, body) -> (status, json, headers) or a coroutine
    backend = OpenAIBackend(server.url, "stub")
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from typing import Any

Reply = tuple[int, Any, dict[str, str]]
Handler = Callable[[str, dict[str, Any]], Any]


def chat_reply(text: str, prompt_tokens: int = 7, completion_tokens: int = 3, finish: str = "stop") -> Reply:
    body = {
        "model": "stub",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }
    return 200, body, {}


class StubServer:
    def __init__(self, handler: Handler):
        self.handler = handler
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.url = ""

    async def __aenter__(self) -> StubServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1].removeprefix("/v1")
            headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            payload = json.loads(body or b"{}")
            self.requests.append((path, payload))
            self.headers.append(headers)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                reply = self.handler(path, payload)
                if inspect.isawaitable(reply):
                    reply = await reply
            finally:
                self.in_flight -= 1
            status, data, extra = reply
            raw = data.encode() if isinstance(data, str) else json.dumps(data).encode()
            head_out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(raw)}", "Connection: close"]
            head_out += [f"{k}: {v}" for k, v in extra.items()]
            head_out.append("Content-Type: application/json")
            writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode() + raw)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)
