"""Plugins: objects that other installed packages advertise under agora's entry point groups.

A package extends agora without touching it by declaring entry points in its ``pyproject.toml``::

    [project.entry-points."agora.backends"]
    echo = "agora_echo.backend:EchoBackend"   # a card's  model: echo:REF
    [project.entry-points."agora.rules"]
    veto = "agora_echo.rules:veto"            # a spec's  aggregation: {rule: veto}
    [project.entry-points."agora.protocols"]
    echo = "agora_echo.protocols"             # a package whose directory holds protocol specs
    [project.entry-points."agora.phase_kinds"]
    poll = "agora_echo.kinds:Poll"            # a spec's  phases: [{kind: poll, ...}]

This module only finds and loads them. What each group's objects must be is checked where they are used
(:mod:`agora.backends.registry`, :mod:`agora.aggregation.registry`, :mod:`agora.protocol.loader`,
:mod:`agora.protocol.spec`), and names
registered in code (agora's built-ins) always come first, so a plugin cannot replace a built-in.

Nothing is imported until it is asked for: :func:`plugins` reads installed metadata only, and :func:`load_plugin`
imports one plugin on its first lookup and keeps the object. A plugin that fails to load fails when it is asked for
by name, with one :class:`~agora.errors.PluginError` line naming its distribution, its entry point and the cause,
every time it is asked for; a lookup of any other name never imports it. Listings that load a whole group
(:func:`plugin_objects`) leave a broken plugin out and log that line once per process.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points

from agora.errors import PluginError

BACKENDS = "agora.backends"
RULES = "agora.rules"
PROTOCOLS = "agora.protocols"
PHASE_KINDS = "agora.phase_kinds"
GROUPS = (BACKENDS, RULES, PROTOCOLS, PHASE_KINDS)

log = logging.getLogger("agora.plugins")


@dataclass(frozen=True)
class Plugin:
    """One advertised entry point, not loaded yet."""

    group: str
    name: str
    value: str  # "module:attribute", or "module" for a module
    distribution: str  # "name version" of the package that advertises it
    entry: EntryPoint = field(repr=False, compare=False)
    #: other distributions advertising the same name in the same group: the name is then ambiguous
    rivals: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"plugin {self.name!r} (entry point {self.group}: {self.name} = {self.value}, from {self.distribution})"

    def error(self, cause: str) -> PluginError:
        """A one-line error about this plugin: ``cause`` follows the plugin's description."""
        return PluginError(f"{self.describe()} {cause}")


_found: dict[str, dict[str, Plugin]] = {}
_loaded: dict[tuple[str, str], object] = {}
_failed: dict[tuple[str, str], PluginError] = {}
_reported: set[str] = set()


def _distribution(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "an unknown distribution"
    return f"{dist.metadata['Name']} {dist.version}"


def plugins(group: str) -> dict[str, Plugin]:
    """Every plugin advertised in ``group``, by name (sorted), from installed metadata; nothing is imported."""
    if group not in _found:
        found: dict[str, Plugin] = {}
        for ep in entry_points(group=group):
            dist = _distribution(ep)
            known = found.get(ep.name)
            if known is None:
                found[ep.name] = Plugin(group, ep.name, ep.value, dist, ep)
            elif dist != known.distribution and dist not in known.rivals:
                found[ep.name] = replace(known, rivals=(*known.rivals, dist))
        _found[group] = dict(sorted(found.items()))
    return _found[group]


def load_plugin(group: str, name: str) -> object | None:
    """The object that plugin ``name`` of ``group`` advertises, imported on the first call and kept; None when no
    installed plugin has that name. Raises :class:`PluginError` when it cannot be loaded (on every call)."""
    plugin = plugins(group).get(name)
    if plugin is None:
        return None
    key = (group, name)
    if key in _loaded:
        return _loaded[key]
    if key in _failed:
        first = _failed[key]
        raise PluginError(first.detail) from first.__cause__
    if plugin.rivals:
        _failed[key] = plugin.error(
            f"is also advertised by {', '.join(plugin.rivals)}: uninstall one of them"
        )
        raise _failed[key]
    try:
        obj = plugin.entry.load()
    except Exception as exc:  # whatever the plugin's import raises: one line naming it, not a traceback
        error = plugin.error(f"failed to load: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        _failed[key] = error
        raise error from exc
    _loaded[key] = obj
    return obj


def plugin_objects(group: str) -> dict[str, object]:
    """Every plugin of ``group`` that loads, by name (sorted). A broken one is left out and logged once."""
    objects: dict[str, object] = {}
    for name in plugins(group):
        try:
            objects[name] = load_plugin(group, name)
        except PluginError as exc:
            warn_once(str(exc))
    return objects


def warn_once(message: str) -> None:
    """Log ``message`` as a warning the first time it is seen in this process (a broken or shadowed plugin)."""
    if message not in _reported:
        _reported.add(message)
        log.warning("agora: warning: %s", message)


def clear_cache() -> None:
    """Forget what was found, loaded and reported, so that plugins installed or removed while this process runs
    are seen (the import system's caches are refreshed as well)."""
    _found.clear()
    _loaded.clear()
    _failed.clear()
    _reported.clear()
    importlib.invalidate_caches()
