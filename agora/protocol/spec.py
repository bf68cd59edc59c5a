"""Protocol specs: the phases of a round, the number of rounds, the graph, the aggregation.

A spec is ``protocols/NAME.yaml`` with its Jinja2 templates beside it (paths relative to the spec file)::

    name: debate
    rounds: 2
    graph: {kind: complete}
    system_template: debate/system.j2
    phases:
      - {name: propose,  kind: propose,  template: debate/propose.j2,  when: first}
      - {name: critique, kind: critique, template: debate/critique.j2}
      - {name: revise,   kind: revise,   template: debate/revise.j2}
      - {name: vote,     kind: vote,     template: debate/vote.j2,     when: last}
    aggregation: {rule: borda, weighted: false, report: [plurality, borda]}

``when`` says in which rounds a phase runs: ``first`` (round 1 only), ``every`` (default) or ``last``.

**Phase kinds.** What one kind of phase asks, of whom, and how it ends, registered by name.

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

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agora.errors import PluginError
from agora.graph import GraphSpec
from agora.plugins import PHASE_KINDS as PHASE_KIND_GROUP
from agora.plugins import load_plugin, plugins
from agora.protocol.contexts import AgentContext, TemplateContext

MAX_ROUNDS = 20


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


def register_phase_kind(kind: PhaseKind | type[PhaseKind]) -> PhaseKind:
    """Register ``kind`` (an instance, or a class made with no arguments) under its name; returns the instance."""
    instance = kind() if isinstance(kind, type) else kind
    if not isinstance(instance, PhaseKind) or not instance.name:
        raise TypeError(f"{kind!r} is not a named PhaseKind")
    PHASE_KINDS[instance.name] = instance
    return instance


def phase_kind(name: str) -> PhaseKind:
    """The kind registered as ``name``, or the installed plugin's (registered on first use); ValueError when there is
    none, or when the plugin cannot be loaded (its one-line reason)."""
    if name not in PHASE_KINDS:
        try:
            advertised = load_plugin(PHASE_KIND_GROUP, name)
        except PluginError as exc:
            raise ValueError(exc.detail) from None
        if advertised is not None:
            try:
                kind = register_phase_kind(advertised)  # type: ignore[arg-type]
            except TypeError:
                raise ValueError(
                    f"plugin phase kind {name!r} is not a PhaseKind subclass or instance"
                ) from None
            if kind.name != name:
                del PHASE_KINDS[kind.name]
                raise ValueError(f"plugin phase kind {name!r} names itself {kind.name!r}")
    try:
        return PHASE_KINDS[name]
    except KeyError:
        known = ", ".join(sorted(set(PHASE_KINDS) | set(plugins(PHASE_KIND_GROUP))))
        raise ValueError(f"unknown phase kind {name!r} (available: {known})") from None


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhaseSpec(_Frozen):
    """One phase of a round."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    kind: str = Field(
        description="a registered phase kind: propose, critique, revise, vote, judge, or a plugin's"
    )
    template: str = Field(min_length=1)
    when: Literal["every", "first", "last"] = "every"
    max_new_tokens: int | None = Field(
        default=None, ge=1, le=4096, description="overrides the persona's setting"
    )
    turns: Literal["simultaneous", "sequential"] = Field(
        default="simultaneous",
        description="'sequential': agents speak one at a time in debate order, and each also sees what its "
        "in-neighbours said earlier in the same phase (ChatEval's one-by-one strategy; no batching)",
    )
    ballot: Literal["generated", "approval", "scored", "own"] = Field(
        default="generated",
        description="vote phases: 'generated' asks for a written ranking; 'approval' for the letters of every "
        "acceptable answer; 'scored' reads the voter's model's likelihood of each candidate answer as its reply; "
        "'own' votes for the voter's own latest answer without asking its model (majority vote baselines)",
    )

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        phase_kind(kind)  # ValueError naming the registered kinds
        return kind

    def runs_in(self, round_index: int, rounds: int) -> bool:
        if self.when == "first":
            return round_index == 1
        if self.when == "last":
            return round_index == rounds
        return True


class AggregationSpec(_Frozen):
    """How ballots become an outcome."""

    rule: str = "borda"
    weighted: bool = Field(default=False, description="weigh each ballot by the persona's 'weight'")
    by_values: bool = Field(
        default=False,
        description="value-weighted: weigh each ballot by how relevant the agent's stated values are to the "
        "question (agora.aggregation.relevance), times the persona's weight when 'weighted' is also set",
    )
    relevance_floor: float = Field(
        default=0.1, ge=0.0, le=1.0, description="value-weighted: the least weight an agent keeps"
    )
    report: list[str] = Field(
        default_factory=lambda: ["plurality", "borda"], description="rules also tallied"
    )
    merge: bool = Field(
        default=True, description="merge proposals that give the same answer (agora.aggregation.candidates)"
    )
    merge_threshold: float = Field(
        default=0.7, gt=0.0, le=1.0, description="content-word similarity at which free-text answers merge"
    )


class MediationSpec(_Frozen):
    """Mediator synthesis (after the Habermas Machine, Tessler et al. 2024), run after the rounds instead of a
    vote: a mediator drafts several group statements from the agents' latest answers (and the last phase's
    critiques), the agents rank the drafts, ``rule`` picks one, the agents critique it, and the mediator revises it
    once. The revised statement is the outcome's answer.

    The mediator holds no stated values; it runs on the model most of the debate's personas use."""

    name: str = Field(default="mediator", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
    drafts: int = Field(default=4, ge=2, le=8, description="statements the mediator drafts")
    temperature: float = Field(
        default=0.7, gt=0.0, le=2.0, description="sampling the drafts (each its own seed)"
    )
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    max_new_tokens: int = Field(default=96, ge=1, le=4096, description="per draft and for the revision")
    system_template: str = Field(min_length=1, description="the mediator's system prompt")
    draft_template: str = Field(min_length=1)
    rank_template: str = Field(min_length=1, description="each agent ranks the drafts (variable: candidates)")
    ballot: Literal["generated", "scored"] = "generated"
    rank_max_new_tokens: int = Field(default=24, ge=1, le=4096)
    critique_template: str = Field(min_length=1, description="each agent critiques the chosen draft (inbox)")
    critique_max_new_tokens: int = Field(default=64, ge=1, le=4096)
    revise_template: str = Field(min_length=1, description="the mediator revises the chosen draft once")
    rule: str = Field(default="schulze", description="the rule that picks the draft")


#: The phases mediator synthesis runs, as they appear in the transcript.
MEDIATION_PHASES = ("draft", "rank", "critique_draft", "revise_draft")


class StopSpec(_Frozen):
    """When a debate ends before its last round; the vote (if any) then runs at once."""

    consensus: Literal["none", "unanimous", "stable"] = Field(
        default="none",
        description="'unanimous': every agent's latest answer is the same answer (merged as for the vote); "
        "'stable': no agent's answer changed since its previous answer",
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="stop once the agents have generated this many tokens in all"
    )


class ProtocolSpec(_Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
    description: str = ""
    rounds: int = Field(default=2, ge=1, le=MAX_ROUNDS)
    graph: GraphSpec = Field(default_factory=GraphSpec)
    system_template: str = Field(min_length=1)
    phases: list[PhaseSpec] = Field(min_length=1)
    aggregation: AggregationSpec = Field(default_factory=AggregationSpec)
    timeout_s: float = Field(default=600.0, gt=0, le=86400, description="per-agent, per-turn time limit")
    answer_max_chars: int = Field(default=240, ge=10, le=10000)
    quorum: float = Field(
        default=0.5, gt=0.0, le=1.0, description="minimum share of agents that must answer a phase"
    )
    roles: list[str] = Field(
        default_factory=list,
        max_length=16,
        description="role names given to the agents in debate order (templates see 'role'); when set, the "
        "debate has exactly this many agents",
    )
    mediation: MediationSpec | None = Field(
        default=None, description="mediator synthesis after the rounds, instead of a vote phase"
    )
    stop: StopSpec = Field(default_factory=StopSpec, description="early stopping: consensus, token budget")

    @model_validator(mode="after")
    def _check_phases(self) -> ProtocolSpec:
        names = [p.name for p in self.phases]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"phase names must be unique, {sorted(dupes)[0]!r} repeats")
        if not any(p.kind == "propose" and p.when in ("first", "every") for p in self.phases):
            raise ValueError("a protocol needs a 'propose' phase that runs in the first round")
        for p in self.phases:
            phase_kind(p.kind).check(self, p)
        clash = sorted(set(names) & set(MEDIATION_PHASES)) if self.mediation is not None else []
        if clash:
            raise ValueError(f"phase name {clash[0]!r} is reserved for mediation")
        if len(set(self.roles)) != len(self.roles):
            raise ValueError("role names must be unique")
        return self
