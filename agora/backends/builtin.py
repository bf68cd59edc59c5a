"""agora's own backends, registered the way a plugin's are: ``openai`` (``NAME@http://host:port/v1``, a model
behind an OpenAI-compatible endpoint) and ``transformers`` (catalog names, model directories and GGUF files, run
locally). Both import their heavy modules only when a card names them, so ``import agora`` never imports torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agora.backends.base import Backend
from agora.backends.catalog import is_endpoint_ref, locate
from agora.backends.registry import register_backend
from agora.errors import ModelNotFoundError

if TYPE_CHECKING:
    from agora.persona import Persona


def openai_backend(ref: str, persona: Persona) -> Backend:
    """``NAME@http(s)://host:port/v1``, tuned by the card's optional ``endpoint:`` block."""
    if not is_endpoint_ref(ref):
        raise ModelNotFoundError(
            f"backend 'openai' needs NAME@http://host:port/v1, not {ref!r}",
            source=persona.source,
            field="model",
        )
    try:
        from agora.backends.openai_backend import OpenAIBackend
    except ImportError as exc:  # pragma: no cover - httpx is a core dependency
        raise ModelNotFoundError(
            f"model {persona.model!r} needs httpx ({exc}): pip install httpx",
            source=persona.source,
            field="model",
        ) from None
    return OpenAIBackend.from_ref(ref, persona.endpoint, source=persona.source)


def transformers_backend(ref: str, persona: Persona) -> Backend:
    """A catalog model, a model directory or a GGUF file, located (and safety-checked) now, loaded at warm-up."""
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
    return TransformersBackend(ref, source=persona.source, trust_remote_code=trust)


register_backend("openai", openai_backend)
register_backend("transformers", transformers_backend)
