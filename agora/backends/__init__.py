"""Backends answer prompts: the local transformers backend, an OpenAI-compatible HTTP client, and a scripted one
for tests.

:func:`resolve_backend` maps a persona's ``model`` reference to a backend without loading anything, so unknown or
unsafe models are refused before a debate starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agora.backends.base import (
    Backend,
    ChatMessage,
    Generation,
    GenerationRequest,
    ScoreRequest,
    Scores,
    ScoringUnsupported,
)
from agora.backends.catalog import CATALOG, is_endpoint_ref, locate
from agora.backends.faults import Fault, FaultyBackend
from agora.backends.scripted import ScriptedBackend
from agora.errors import ModelNotFoundError

if TYPE_CHECKING:
    from agora.persona import Persona

__all__ = [
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
    if is_endpoint_ref(ref):
        backend = _endpoint_backend(persona)
        cache[ref] = backend
        return backend
    if persona.endpoint is not None:
        raise ModelNotFoundError(
            f"an endpoint block needs model: NAME@http://host:port/v1, not {ref!r}",
            source=persona.source,
            field="endpoint",
        )
    trust = persona.trust_remote_code
    locate(ref, source=persona.source, trust_remote_code=trust)  # fails fast, without importing torch
    try:
        from agora.backends.transformers.backend import TransformersBackend
    except ImportError as exc:
        raise ModelNotFoundError(
            f"model {ref!r} needs the local model backend ({exc.name} is not installed): pip install 'agora[model]'",
            source=persona.source,
            field="model",
        ) from None
    backend = TransformersBackend(ref, source=persona.source, trust_remote_code=trust)
    cache[ref] = backend
    return backend


def _endpoint_backend(persona: Persona) -> Backend:
    try:
        from agora.backends.openai_backend import OpenAIBackend
    except ImportError as exc:  # pragma: no cover - httpx is a core dependency
        raise ModelNotFoundError(
            f"model {persona.model!r} needs httpx ({exc}): pip install httpx",
            source=persona.source,
            field="model",
        ) from None
    return OpenAIBackend.from_ref(persona.model, persona.endpoint)
