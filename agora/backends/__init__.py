"""Backends answer prompts: the local transformers backend, an OpenAI-compatible HTTP client, and a scripted one
for tests; installed plugins add more (see :mod:`agora.backends.registry`).

:func:`resolve_backend` maps a persona's ``model`` reference to a backend without loading anything, so unknown or
unsafe models are refused before a debate starts.
"""

from __future__ import annotations

from agora.backends import builtin as _builtin  # noqa: F401  (registers the openai and transformers backends)
from agora.backends.base import (
    Backend,
    ChatMessage,
    Generation,
    GenerationRequest,
    ScoreRequest,
    Scores,
    ScoringUnsupported,
)
from agora.backends.catalog import CATALOG
from agora.backends.faults import Fault, FaultyBackend
from agora.backends.registry import BACKENDS, backend_names, register_backend, resolve_backend
from agora.backends.scripted import ScriptedBackend

__all__ = [
    "BACKENDS",
    "Backend",
    "CATALOG",
    "ChatMessage",
    "Fault",
    "FaultyBackend",
    "Generation",
    "GenerationRequest",
    "ScoreRequest",
    "Scores",
    "ScoringUnsupported",
    "ScriptedBackend",
    "backend_names",
    "register_backend",
    "resolve_backend",
]
