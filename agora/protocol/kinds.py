"""Phase kinds: what one kind of phase asks, of whom, and how it ends, registered by name.

A protocol spec names a kind for each phase (``kind: propose``). A kind is one object behind a small interface:

- ``context``: what its template sees (a :class:`~agora.protocol.contexts.TemplateContext` model: the allowlist of
  variables and the samples every template is tried on when its protocol loads);
- ``check(spec, phase)``: how a protocol may use it (a vote runs last, a judge closes every round, ...);
- ``run(run, state, phase)``: what it does when the round loop reaches it -- asks its agents, records what they
  return, closes the phase -- and whether the debate is decided after it;
- ``replay(run, state, phase)``: the same for a phase a resumed transcript already holds.

The built-in kinds (``propose``, ``critique``, ``revise``, ``vote``, ``judge``) live in :mod:`agora.run.kinds` and
register with :func:`register_phase_kind` exactly as a plugin would; a package can add a kind through the
``agora.phase_kinds`` entry point group (the entry point names a :class:`PhaseKind` subclass or instance).
Adding a kind touches one module and its templates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from agora.protocol.contexts import AgentContext, TemplateContext

if TYPE_CHECKING:
    from agora.protocol.spec import PhaseSpec, ProtocolSpec


class PhaseKind:
    """One kind of phase. Subclass it, set ``name``, implement :meth:`run`, and register an instance."""

    #: the name a spec's ``kind:`` uses
    name: ClassVar[str] = ""
    #: what its template sees; the protocol's system template (an :class:`AgentContext`) opens its prompts when
    #: ``system_prompt`` is set
    context: ClassVar[type[TemplateContext]] = AgentContext
    system_prompt: ClassVar[bool] = True
    #: its messages are the agents' answers: each agent's latest one is what it stands for in the vote
    answers: ClassVar[bool] = False
    #: the next phase hears its messages (as each agent's inbox)
    heard: ClassVar[bool] = True
    #: the phase counts ballots into the debate's outcome: it is complete only once that outcome follows its closing
    #: event (resume reads this), and it runs at once when the debate stops early
    tallies: ClassVar[bool] = False
    #: what the progress line calls agents that gave nothing usable in it
    failed_word: ClassVar[str] = "failed"

    def check(self, spec: ProtocolSpec, phase: PhaseSpec) -> None:
        """Raise ``ValueError`` (one line) when ``spec`` uses this kind in a way it cannot run."""

    async def run(self, run: Any, state: Any, phase: PhaseSpec) -> bool:
        """Run the phase for round ``state.round``; return True when the debate is decided and must stop.

        ``run`` is the running debate (:class:`agora.run.engine.Engine`: its agents, turns and record),
        ``state`` the round loop's :class:`agora.run.state.RoundState`."""
        raise NotImplementedError

    async def replay(self, run: Any, state: Any, phase: PhaseSpec) -> bool:
        """Take the phase's messages from the resumed transcript instead of running it (the default for kinds whose
        messages are heard); return True when the debate is decided."""
        state.heard(run.record.transcript.phase_messages(state.round, phase.name), self)
        return False


PHASE_KINDS: dict[str, PhaseKind] = {}
ENTRY_POINT_GROUP = "agora.phase_kinds"


def register_phase_kind(kind: PhaseKind | type[PhaseKind]) -> PhaseKind:
    """Register ``kind`` (an instance, or a class made with no arguments) under its name; returns the instance."""
    instance = kind() if isinstance(kind, type) else kind
    if not isinstance(instance, PhaseKind) or not instance.name:
        raise TypeError(f"{kind!r} is not a named PhaseKind")
    PHASE_KINDS[instance.name] = instance
    return instance


def phase_kind(name: str) -> PhaseKind:
    """The kind registered as ``name``; ValueError when there is none."""
    try:
        return PHASE_KINDS[name]
    except KeyError:
        raise ValueError(
            f"unknown phase kind {name!r} (available: {', '.join(sorted(PHASE_KINDS))})"
        ) from None
