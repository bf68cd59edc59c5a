"""The llama.cpp server fixture cleans up on every failure path and says why in one line.

The servers here are small stand-ins written with the standard library (no llama.cpp needed): one that exits at
once, one that never answers, one that dies on its first chat request, and one that works until it is killed.
Each case checks that afterwards no process is left running and the log file is closed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest
from llama_server import LlamaServer, ServerFailed

STAND_IN = r"""
import json, os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

mode, port = sys.argv[1], int(sys.argv[2])
print("stand-in server starting in mode", mode, flush=True)
if mode == "exit":
    print("error: failed to load model file", flush=True)
    sys.exit(3)

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"data": []}')

    def do_POST(self):
        if mode == "crash":
            print("ggml: illegal instruction in the first request", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "Hi"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

if mode == "silent":
    import time
    time.sleep(600)
HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def stand_in(tmp_path: Path, mode: str):
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    return lambda port: [sys.executable, str(script), mode, str(port)]


def open_fds_on(path: Path) -> list[str]:
    """This process's file descriptors that point at ``path`` (Linux's /proc)."""
    fd_dir = Path("/proc/self/fd")
    found = []
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(fd_dir / fd) == str(path):
                found.append(fd)
        except OSError:
            continue
    return found


def assert_clean(server: LlamaServer) -> None:
    assert server.proc is not None and server.proc.returncode is not None  # killed and waited for
    assert not server.running
    if Path("/proc/self/fd").is_dir():
        assert open_fds_on(server.log) == []


def failing_start(tmp_path: Path, mode: str, **timeouts) -> tuple[LlamaServer, str]:
    server = LlamaServer(tmp_path / "server.log", stand_in(tmp_path, mode), **timeouts)
    with pytest.raises(ServerFailed) as failure:
        server.start()
    message = str(failure.value)
    assert "\n" not in message
    return server, message


def test_a_server_that_exits_at_once_names_its_exit_code_and_log(tmp_path):
    server, message = failing_start(tmp_path, "exit")
    assert "exited with code 3 before it answered" in message
    assert "error: failed to load model file" in message
    assert_clean(server)


def test_a_server_that_never_answers_is_killed_after_the_start_timeout(tmp_path):
    server, message = failing_start(tmp_path, "silent", start_timeout_s=1.5)
    assert "did not answer" in message and "within 1.5 s" in message
    assert "stand-in server starting in mode silent" in message
    assert_clean(server)


def test_a_server_that_dies_on_its_first_request_names_the_signal(tmp_path):
    server, message = failing_start(tmp_path, "crash")
    assert "was killed by SIGKILL on its warm-up request" in message
    assert "illegal instruction" in message
    assert_clean(server)


def test_a_server_killed_mid_use_and_stopped_again_leaves_nothing_behind(tmp_path):
    server = LlamaServer(tmp_path / "server.log", stand_in(tmp_path, "ok")).start()
    assert server.running
    reply = httpx.post(f"{server.url}/chat/completions", json={"messages": []}, timeout=10)
    assert reply.json()["choices"][0]["message"]["content"] == "Hi"
    server.proc.kill()  # as if it crashed
    server.stop()
    server.stop()  # the fixture's own stop after a test that stopped it
    assert_clean(server)
