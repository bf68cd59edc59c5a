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
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ._yaml import read_model
from .errors import ConfigError, pydantic_error_line
from .graph import GraphSpec
from .prompts import (
    COMMON_VARIABLES,
    JUDGE_VARIABLES,
    MEDIATOR_VARIABLES,
    VOTE_VARIABLES,
    PromptTemplate,
    make_environment,
)
from .resources import builtin_dir

PhaseKind = Literal["propose", "critique", "revise", "vote", "judge"]
MAX_ROUNDS = 20


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhaseSpec(_Frozen):
    """One phase of a round."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    kind: PhaseKind
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
        "question (agora.relevance), times the persona's weight when 'weighted' is also set",
    )
    relevance_floor: float = Field(
        default=0.1, ge=0.0, le=1.0, description="value-weighted: the least weight an agent keeps"
    )
    report: list[str] = Field(
        default_factory=lambda: ["plurality", "borda"], description="rules also tallied"
    )
    merge: bool = Field(
        default=True, description="merge proposals that give the same answer (agora.candidates)"
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
            if p.kind == "vote" and p.when != "last":
                raise ValueError(f"vote phase {p.name!r} must have when: last")
        votes = [p for p in self.phases if p.kind == "vote"]
        if len(votes) > 1:
            raise ValueError("a protocol has at most one vote phase")
        if self.mediation is not None:
            if votes:
                raise ValueError(
                    "a protocol with mediation ends with the mediator's statement, not a vote phase"
                )
            clash = sorted(set(names) & set(MEDIATION_PHASES))
            if clash:
                raise ValueError(f"phase name {clash[0]!r} is reserved for mediation")
        judges = [p for p in self.phases if p.kind == "judge"]
        if judges:
            if votes or self.mediation is not None:
                raise ValueError(
                    "a protocol with a judge phase ends with the judge's verdict, not a vote or mediation"
                )
            if len(judges) > 1 or judges[0].when != "every" or self.phases[-1].kind != "judge":
                raise ValueError(
                    "a judge phase runs every round, as the last phase of the round (one per protocol)"
                )
            if len(self.roles) < 2:
                raise ValueError("a protocol with a judge phase names the debaters' roles (at least two)")
        if len(set(self.roles)) != len(self.roles):
            raise ValueError("role names must be unique")
        return self


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
        self.system_template = PromptTemplate(env, spec.system_template, directory, COMMON_VARIABLES)
        self.templates: dict[str, PromptTemplate] = {}
        for phase in spec.phases:
            allowed = {"vote": COMMON_VARIABLES | VOTE_VARIABLES, "judge": JUDGE_VARIABLES}.get(
                phase.kind, COMMON_VARIABLES
            )
            self.templates[phase.name] = PromptTemplate(env, phase.template, directory, allowed)
        med = spec.mediation
        if med is not None:
            self.mediator_template = PromptTemplate(env, med.system_template, directory, MEDIATOR_VARIABLES)
            self.templates["draft"] = PromptTemplate(env, med.draft_template, directory, MEDIATOR_VARIABLES)
            self.templates["rank"] = PromptTemplate(
                env, med.rank_template, directory, COMMON_VARIABLES | VOTE_VARIABLES
            )
            self.templates["critique_draft"] = PromptTemplate(
                env, med.critique_template, directory, COMMON_VARIABLES
            )
            self.templates["revise_draft"] = PromptTemplate(
                env, med.revise_template, directory, MEDIATOR_VARIABLES
            )

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
    """A protocol name (``debate``) resolves to a shipped spec; anything else is a file path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file() or "/" in str(name_or_path):
        return candidate
    shipped = builtin_dir("protocols") / f"{name_or_path}.yaml"
    if not shipped.exists():
        available = sorted(p.stem for p in builtin_dir("protocols").glob("*.yaml"))
        raise ConfigError(f"unknown protocol {str(name_or_path)!r} (shipped: {', '.join(available)})")
    return shipped


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
    """Render every phase's template and the system template once on sample contexts (see
    :mod:`agora.prompt_samples`), so that a template that would break mid-debate is refused before any model loads."""
    from .prompt_samples import judge_contexts, mediator_contexts, sample_contexts

    for phase in [*protocol.spec.phases, *protocol.mediation_phases().values()]:
        if phase.name in ("draft", "revise_draft") and protocol.spec.mediation is not None:
            continue  # the mediator's own templates: below
        if phase.kind == "judge":
            protocol.templates[phase.name].try_render(judge_contexts())
            continue
        samples = sample_contexts(phase.name, phase.kind == "vote")
        protocol.system_template.try_render(samples)
        protocol.templates[phase.name].try_render(samples)
    if protocol.spec.mediation is not None:
        samples = mediator_contexts()
        for template in (
            protocol.mediator_template,
            protocol.templates["draft"],
            protocol.templates["revise_draft"],
        ):
            template.try_render(samples)


def list_protocols() -> list[Path]:
    return sorted(builtin_dir("protocols").glob("*.yaml"))
