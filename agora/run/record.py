"""How a run names and records what happened: message ids and prompt hashes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from agora.backends.base import ChatMessage


def message_id(round: int, phase: str, agent: str) -> str:
    return f"r{round}.{phase}.{agent}"


def prompt_hash(messages: Sequence[ChatMessage]) -> str:
    blob = json.dumps([m.as_dict() for m in messages], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
