"""Backends answer prompts: the local transformers backend, and a scripted one for tests.

:func:`resolve_backend` maps a persona's ``model`` reference to a backend without loading anything, so unknown
models are refused before a debate starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ModelNotFoundError
from .base import (
    Backend,
    ChatMessage,
    Generation,
    GenerationRequest,
    ScoreRequest,
    Scores,
    ScoringUnsupported,
)
from .catalog import CATALOG, locate
from .scripted import ScriptedBackend

if TYPE_CHECKING:
    from ..persona import Persona

__all__ = [
    "Backend",
    "CATALOG",
    "ChatMessage",
    "Generation",
    "GenerationRequest",
    "ScoreRequest",
    "Scores",
    "ScoringUnsupported",
    "ScriptedBackend",
    "resolve_backend",
]


def resolve_backend(persona: Persona, cache: dict[str, Backend] | None = None) -> Backend:
    """The backend for ``persona.model``; personas naming the same model get the same backend."""
    cache = cache if cache is not None else {}
    ref = persona.model
    if ref in cache:
        return cache[ref]
    if ref == "scripted":
        raise ModelNotFoundError(
            "model 'scripted' needs a ScriptedBackend passed in Python: Debate(..., backends={'scripted': ...})",
            source=persona.source,
            field="model",
        )
    locate(ref, source=persona.source)  # fails fast, without importing torch
    try:
        from .transformers_backend import TransformersBackend
    except ImportError as exc:
        raise ModelNotFoundError(
            f"model {ref!r} needs the local model backend ({exc.name} is not installed): pip install 'agora[model]'",
            source=persona.source,
            field="model",
        ) from None
    backend = TransformersBackend(ref, source=persona.source)
    cache[ref] = backend
    return backend
