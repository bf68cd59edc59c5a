"""The registry of backends: name -> factory, and how a card's ``model`` reference picks one.

A reference is either ``BACKEND:REF``, where ``BACKEND`` is a registered name (``echo:hello``,
``openai:qwen@http://localhost:8000/v1``, ``transformers:smollm2-135m-instruct``), or a plain reference without a
backend name, which goes to ``openai`` when it is ``NAME@http(s)://...`` and to ``transformers`` otherwise (catalog
names, model directories, GGUF files): every reference that worked before backends were pluggable still works.

A factory is any callable ``factory(ref, persona) -> Backend``, called with the reference after ``BACKEND:`` and
the persona whose card names it; a :class:`~agora.backends.base.Backend` subclass whose constructor takes
``(ref, persona)`` is one. It runs while a debate is set up, so it should check the reference and fail fast (with
:class:`~agora.errors.ModelNotFoundError`) but load nothing heavy: that belongs in ``Backend.warm_up``.

Names come from :func:`register_backend` (agora's built-ins, :mod:`agora.backends.builtin`, register this way, as
can an application) and then from installed plugins, entry points in the group ``agora.backends`` (see
:mod:`agora.plugins`); a name registered in code wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agora.backends.base import Backend
from agora.backends.catalog import is_endpoint_ref
from agora.errors import ModelNotFoundError, PluginError
from agora.plugins import BACKENDS as GROUP
from agora.plugins import load_plugin, plugins

if TYPE_CHECKING:
    from agora.persona import Persona

BackendFactory = Callable[[str, "Persona"], Backend]

#: ``BACKEND:REF``; a backend name has at least two characters, so a Windows drive (``C:\...``) is a path
_PREFIXED = re.compile(r"^([A-Za-z][A-Za-z0-9_.\-]+):(.*)$", re.DOTALL)

BACKENDS: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> BackendFactory:
    """Make ``model: NAME:REF`` call ``factory(REF, persona)``; returns the factory."""
    if not _PREFIXED.match(f"{name}:"):
        raise ValueError(f"backend name {name!r} must be a letter then letters, digits, '_', '.' or '-'")
    BACKENDS[name] = factory
    return factory


def backend_names() -> list[str]:
    """Every backend a card can name: registered in code and advertised by installed plugins (none imported)."""
    return sorted(set(BACKENDS) | set(plugins(GROUP)))


def split_model_ref(ref: str, *, source: str | None = None) -> tuple[str, str]:
    """``(backend name, the reference that backend gets)`` for a card's ``model``.

    A prefix that names a backend picks it (so ``openai:NAME@URL`` is explicit). Otherwise ``NAME@http(s)://...``
    goes to ``openai`` (its NAME may hold a colon, as Ollama's ``llama3:8b``), and any other prefix is an error
    listing the backends there are, unless the whole reference is an existing file or directory.
    """
    match = _PREFIXED.match(ref)
    if match and (match.group(1) in BACKENDS or match.group(1) in plugins(GROUP)):
        name, rest = match.groups()
        return name, rest
    if is_endpoint_ref(ref):  # NAME@URL, where NAME may hold a colon (Ollama's "llama3:8b")
        return "openai", ref
    if match and not Path(ref).expanduser().exists():
        raise ModelNotFoundError(
            f"unknown backend {match.group(1)!r} in model {ref!r} "
            f"(available backends: {', '.join(backend_names())})",
            source=source,
            field="model",
        )
    return "transformers", ref


def backend_factory(name: str, *, source: str | None = None) -> BackendFactory:
    """The factory registered as ``name``, or the installed plugin's (imported on first use).

    A plugin that cannot be imported, or whose object is not callable, is a :class:`PluginError` naming the card.
    """
    factory = BACKENDS.get(name)
    if factory is not None:
        return factory
    try:
        obj = load_plugin(GROUP, name)
    except PluginError as exc:
        raise PluginError(exc.detail, source=source, field="model") from exc.__cause__
    if obj is None:
        raise ModelNotFoundError(
            f"unknown backend {name!r} (available backends: {', '.join(backend_names())})",
            source=source,
            field="model",
        )
    if not callable(obj):
        plugin = plugins(GROUP)[name]
        raise PluginError(
            f"{plugin.describe()} is a {type(obj).__name__}, not a backend factory (ref, persona) -> Backend",
            source=source,
            field="model",
        )
    return obj  # type: ignore[return-value]


def resolve_backend(persona: Persona, cache: dict[str, Backend] | None = None) -> Backend:
    """The backend for ``persona.model``; personas naming the same model get the same backend.

    Nothing heavy loads here (factories only check their reference), so an unknown model, a missing package or
    a broken plugin is refused, naming the card and its field, before a debate starts.
    """
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
    name, rest = split_model_ref(ref, source=persona.source)
    if persona.endpoint is not None and name != "openai":
        raise ModelNotFoundError(
            f"an endpoint block needs model: NAME@http://host:port/v1, not {ref!r}",
            source=persona.source,
            field="endpoint",
        )
    backend = backend_factory(name, source=persona.source)(rest, persona)
    if not isinstance(backend, Backend):
        raise PluginError(
            f"backend {name!r} returned a {type(backend).__name__}, not an agora.backends.Backend",
            source=persona.source,
            field="model",
        )
    cache[ref] = backend
    return backend
