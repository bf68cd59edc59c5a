"""A llama.cpp server process for the endpoint tests, started and stopped without leaking anything.

``LlamaServer.start()`` launches the command on a free loopback port, waits for ``/v1/models`` to answer and sends
one warm-up chat request. Whatever fails on the way (the process exits, never answers, or dies on its first
request), the process is killed and waited for and its log closed before :class:`ServerFailed` is raised with one
line: the cause and the last lines of the log. ``stop()`` does the same cleanup and may be called any number of
times, so a test can kill the server mid-debate and the fixture still closes it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

TAIL_LINES = 5


class ServerFailed(RuntimeError):
    """The server could not start or answer; the message is one line."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def llama_cpp_command(gguf: Path, alias: str) -> Callable[[int], list[str]]:
    """``python -m llama_cpp.server`` serving ``gguf`` as ``alias`` on the given port, one thread."""

    def command(port: int) -> list[str]:
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias]
        return cmd + ["--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_ctx", "2048"]

    return command


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class LlamaServer:
    """One server process on loopback; ``url`` is its OpenAI-compatible base URL."""

    def __init__(
        self,
        log: Path,
        command: Callable[[int], Sequence[str]],
        *,
        model: str = "smollm2",
        start_timeout_s: float = 120,
        warm_timeout_s: float = 120,
    ):
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.model = model
        self._command = list(command(self.port))
        self._start_timeout_s = start_timeout_s
        self._warm_timeout_s = warm_timeout_s
        self._log_file = None
        self.proc: subprocess.Popen | None = None

    def start(self) -> LlamaServer:
        try:
            self._log_file = self.log.open("wb")
            self.proc = subprocess.Popen(self._command, stdout=self._log_file, stderr=subprocess.STDOUT)
            self._wait_ready()
            self._warm_up()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self._failed(f"{describe_exit(self.proc.returncode)} before it answered")
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        raise self._failed(f"did not answer {self.url}/models within {self._start_timeout_s:g} s")

    def _warm_up(self) -> None:
        """The first request warms the server up (about 10 s): here, not inside a debate's timeout."""
        warm = {"model": self.model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
        try:
            httpx.post(
                f"{self.url}/chat/completions", json=warm, timeout=self._warm_timeout_s
            ).raise_for_status()
        except httpx.HTTPError as e:
            try:
                code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                cause = f"failed its warm-up request ({type(e).__name__}: {e})"
            else:
                cause = f"{describe_exit(code)} on its warm-up request"
            raise self._failed(cause) from None

    def _failed(self, cause: str) -> ServerFailed:
        self.stop()  # the log is complete once the process is gone
        return ServerFailed(f"llama.cpp server {cause}; last log lines: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError as e:
            return f"(log unreadable: {e})"
        tail = [line.strip() for line in lines if line.strip()][-TAIL_LINES:]
        return " | ".join(tail) or "(empty)"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Kill the process, wait for it and close the log; safe to call again."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=30)
        if self._log_file is not None:
            self._log_file.close()
