"""Load a page in headless Chromium and report what its console said, over the DevTools protocol on a pipe.

Chromium started with ``--remote-debugging-pipe`` reads DevTools commands from file descriptor 3 and writes
replies and events to descriptor 4, each message a JSON object ended by a NUL byte. That needs no WebSocket client
and no extra Python package, and it sees everything a developer's console would: ``console.*`` calls
(``Runtime.consoleAPICalled``), uncaught exceptions (``Runtime.exceptionThrown``) and the browser's own log, which
includes resources that failed to load (``Log.entryAdded``).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageLoad:
    """What loading a page produced: console messages (level, text), and a PNG screenshot."""

    console: list[tuple[str, str]] = field(default_factory=list)
    screenshot: bytes = b""

    @property
    def problems(self) -> list[tuple[str, str]]:
        """Console messages at warning level or above, and every uncaught exception."""
        return [
            (lvl, text) for lvl, text in self.console if lvl in ("error", "warning", "assert", "exception")
        ]


class _Pipe:
    def __init__(self, chromium: str, width: int, height: int):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        self._profile = tempfile.mkdtemp(prefix="agora-chromium-")

        def wire() -> None:  # in the child: fds 3 and 4 become the protocol pipe (moved out of the way first)
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [
                chromium,
                *FLAGS,
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,  # closing would happen after ``wire`` and take fds 3 and 4 with it
            preexec_fn=wire,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the protocol pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:  # fmt: skip
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            self.events.append(message)
            if message.get("method") == method:
                return message

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001 - closing a browser that already went away
            self.process.kill()
            self.process.wait(timeout=10)
        finally:
            os.close(self._to_chrome)
            os.close(self._from_chrome)
            shutil.rmtree(self._profile, ignore_errors=True)


def load_page(path: Path, width: int = 1200, height: int = 2000, chromium: str | None = None) -> PageLoad:
    """Open ``path`` in headless Chromium, wait for its load event and a moment more, take a full-size screenshot."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("chromium")
    pipe = _Pipe(chromium, width, height)
    try:
        target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            pipe.call(f"{domain}.enable", session=session)
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        pipe.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        pipe.wait_for("Page.loadEventFired")
        time.sleep(0.5)  # let late console messages arrive
        shot = pipe.call("Page.captureScreenshot", {"format": "png"}, session=session)
        result = PageLoad(screenshot=base64.b64decode(shot["data"]))
        for event in pipe.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                result.console.append((params.get("type", "log"), text))
            elif event.get("method") == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text", "")
                result.console.append(("exception", text))
            elif event.get("method") == "Log.entryAdded":
                entry = params.get("entry", {})
                result.console.append((entry.get("level", "info"), entry.get("text", "")))
        return result
    finally:
        pipe.close()
