"""A protocol: its validated spec with compiled prompt templates, loaded by name or path and checked before any model
loads (every template rendered once on sample contexts). Names resolve to the shipped specs, then to those of
installed plugins (entry points in ``agora.protocols``, see :func:`plugin_protocols`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from agora._yaml import read_model
from agora.errors import ConfigError, pydantic_error_line
from agora.plugins import PROTOCOLS as PROTOCOL_GROUP
from agora.plugins import plugin_objects, plugins, warn_once
from agora.protocol.contexts import AgentContext, MediatorContext, TemplateContext
from agora.protocol.spec import PhaseSpec, ProtocolSpec, phase_kind
from agora.protocol.templates import PromptTemplate, make_environment
from agora.resources import builtin_dir

#: the mediation steps the mediator itself writes (the agents rank and critique its drafts)
MEDIATOR_STEPS = ("draft", "revise_draft")


class Protocol:
    """A validated spec with its compiled templates."""

    def __init__(
        self,
        spec: ProtocolSpec,
        directory: Path,
        source: Path | None = None,
        overrides: dict[str, Any] | None = None,
    ):
        self.spec = spec
        self.directory = directory
        self.source = source
        #: fields replaced by :meth:`with_overrides` since the spec was loaded from ``source``
        self.overrides: dict[str, Any] = dict(overrides or {})
        env = make_environment(directory)
        self.system_template = PromptTemplate(env, spec.system_template, directory, AgentContext.allowed())
        self.templates: dict[str, PromptTemplate] = {}
        for phase in spec.phases:
            self.templates[phase.name] = PromptTemplate(
                env, phase.template, directory, self.context_of(phase).allowed()
            )
        med = spec.mediation
        if med is not None:
            self.mediator_template = PromptTemplate(
                env, med.system_template, directory, MediatorContext.allowed()
            )
            for phase in self.mediation_phases().values():
                allowed = self.context_of(phase).allowed()
                self.templates[phase.name] = PromptTemplate(env, phase.template, directory, allowed)

    def context_of(self, phase: PhaseSpec) -> type[TemplateContext]:
        """What ``phase``'s template sees: its kind's context, or the mediator's for the mediator's own steps."""
        if self.spec.mediation is not None and phase.name in MEDIATOR_STEPS:
            return MediatorContext
        return phase_kind(phase.kind).context

    def mediation_phases(self) -> dict[str, PhaseSpec]:
        """The mediation steps as phase specs (their templates are compiled under these names)."""
        med = self.spec.mediation
        if med is None:
            return {}
        return {
            "draft": PhaseSpec(
                name="draft", kind="propose", template=med.draft_template, max_new_tokens=med.max_new_tokens
            ),
            "rank": PhaseSpec(
                name="rank",
                kind="vote",
                template=med.rank_template,
                when="last",
                ballot=med.ballot,
                max_new_tokens=med.rank_max_new_tokens,
            ),
            "critique_draft": PhaseSpec(
                name="critique_draft",
                kind="critique",
                template=med.critique_template,
                max_new_tokens=med.critique_max_new_tokens,
            ),
            "revise_draft": PhaseSpec(
                name="revise_draft",
                kind="revise",
                template=med.revise_template,
                max_new_tokens=med.max_new_tokens,
            ),
        }

    @property
    def name(self) -> str:
        return self.spec.name

    def template_hashes(self) -> dict[str, str]:
        """Each prompt template's file name (relative to the spec) -> sha256 of its text."""
        templates = [self.system_template, *self.templates.values()]
        if self.spec.mediation is not None:
            templates.append(self.mediator_template)
        return {t.name: hashlib.sha256(t.source.encode("utf-8")).hexdigest() for t in templates}

    def with_overrides(self, **updates: object) -> Protocol:
        """A copy with fields replaced (validated; e.g. ``rounds=3``)."""
        data = self.spec.model_dump()
        changed = {k: v for k, v in updates.items() if v is not None}
        data.update(changed)
        try:
            spec = ProtocolSpec.model_validate(data)
        except ValidationError as exc:
            raise pydantic_error_line(exc, self.source, "protocol spec") from None
        return Protocol(spec, self.directory, self.source, {**self.overrides, **changed})


def resolve_protocol_path(name_or_path: str | Path) -> Path:
    """A protocol name (``debate``) resolves to a shipped spec, then to an installed plugin's (see
    :func:`plugin_protocols`); anything else is a file path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file() or "/" in str(name_or_path):
        return candidate
    shipped = builtin_dir("protocols") / f"{name_or_path}.yaml"
    if shipped.exists():
        return shipped
    from_plugins = plugin_protocols()
    if str(name_or_path) in from_plugins:
        return from_plugins[str(name_or_path)]
    available = sorted(p.stem for p in builtin_dir("protocols").glob("*.yaml"))
    more = f"; from plugins: {', '.join(from_plugins)}" if from_plugins else ""
    raise ConfigError(f"unknown protocol {str(name_or_path)!r} (shipped: {', '.join(available)}{more})")


def load_protocol(name_or_path: str | Path = "debate") -> Protocol:
    """Load and validate a protocol spec and compile its templates."""
    path = resolve_protocol_path(name_or_path)
    spec = read_model(path, ProtocolSpec, "protocol spec")
    try:
        protocol = Protocol(spec, path.parent, path)
        try_templates(protocol)
    except ConfigError as exc:
        if exc.field is not None or exc.source is None:
            raise
        field = template_field(spec, path.parent, exc.source)
        raise ConfigError(exc.detail, source=exc.source, field=field) from None
    return protocol


def template_field(spec: ProtocolSpec, directory: Path, source: str) -> str | None:
    """The spec field that names the template file ``source`` (``system_template``, ``phases.1.template``)."""
    if source == str(directory / spec.system_template):
        return "system_template"
    for i, phase in enumerate(spec.phases):
        if source == str(directory / phase.template):
            return f"phases.{i}.template"
    return None


def try_templates(protocol: Protocol) -> None:
    """Render every template once on the samples of its context (see :mod:`agora.protocol.contexts`), so that a
    template that would break mid-debate is refused before any model loads."""
    for phase in [*protocol.spec.phases, *protocol.mediation_phases().values()]:
        context = protocol.context_of(phase)
        samples = context.samples(phase.name)
        if context is not MediatorContext and phase_kind(phase.kind).system_prompt:
            protocol.system_template.try_render(samples)
        protocol.templates[phase.name].try_render(samples)
    if protocol.spec.mediation is not None:
        protocol.mediator_template.try_render(MediatorContext.samples())


def list_protocols() -> list[Path]:
    """The spec of every protocol a name resolves to: the shipped ones, then the plugins' (by name)."""
    return sorted(builtin_dir("protocols").glob("*.yaml")) + list(plugin_protocols().values())


def plugin_protocols() -> dict[str, Path]:
    """Protocol name -> spec file, from the directories installed plugins advertise in ``agora.protocols``.

    An entry point's object is a module (a package whose directory holds the specs) or a path (``str`` or
    ``os.PathLike``) to a directory; each ``*.yaml`` in it is a protocol named by its file name. A name a shipped
    protocol (or an earlier plugin, by entry point name) already has is not shadowed: the plugin's spec is left out,
    with a warning giving its path (load it by path). A broken plugin is left out and logged once.
    """
    names = {p.stem for p in builtin_dir("protocols").glob("*.yaml")}
    found: dict[str, Path] = {}
    for name, obj in plugin_objects(PROTOCOL_GROUP).items():
        plugin = plugins(PROTOCOL_GROUP)[name]
        directory = _protocol_directory(obj)
        if directory is None or not directory.is_dir():
            what = f"names {str(directory)!r}" if directory is not None else f"is a {type(obj).__name__}"
            warn_once(f"{plugin.describe()} {what}, not a package or a directory of protocol specs")
            continue
        for spec in sorted(directory.glob("*.yaml")):
            if spec.stem in names:
                warn_once(
                    f"{plugin.describe()}: protocol {spec.stem!r} is not used by name, another protocol has it; "
                    f"load it by path: {spec}"
                )
                continue
            names.add(spec.stem)
            found[spec.stem] = spec
    return found


def _protocol_directory(obj: object) -> Path | None:
    """The directory a protocol plugin's object names (None: neither a module nor a path): a package's own
    directory, the directory a plain module's file is in, or the path itself."""
    if isinstance(obj, ModuleType):
        locations = list(getattr(obj, "__path__", None) or [])  # a package (a namespace package too)
        if locations:
            return Path(locations[0])
        file = getattr(obj, "__file__", None)
        return Path(file).parent if file else None
    if isinstance(obj, (str, os.PathLike)):
        return Path(obj).expanduser()
    return None
