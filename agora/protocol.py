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

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ._yaml import read_model
from .errors import ConfigError, pydantic_error_line
from .graph import GraphSpec
from .prompts import COMMON_VARIABLES, VOTE_VARIABLES, PromptTemplate, make_environment
from .resources import builtin_dir

PhaseKind = Literal["propose", "critique", "revise", "vote"]
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
    report: list[str] = Field(
        default_factory=lambda: ["plurality", "borda"], description="rules also tallied"
    )
    merge: bool = Field(
        default=True, description="merge proposals that give the same answer (agora.candidates)"
    )
    merge_threshold: float = Field(
        default=0.7, gt=0.0, le=1.0, description="content-word similarity at which free-text answers merge"
    )


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
        return self


class Protocol:
    """A validated spec with its compiled templates."""

    def __init__(self, spec: ProtocolSpec, directory: Path, source: Path | None = None):
        self.spec = spec
        self.directory = directory
        self.source = source
        env = make_environment(directory)
        self.system_template = PromptTemplate(env, spec.system_template, directory, COMMON_VARIABLES)
        self.templates: dict[str, PromptTemplate] = {}
        for phase in spec.phases:
            allowed = COMMON_VARIABLES | VOTE_VARIABLES if phase.kind == "vote" else COMMON_VARIABLES
            self.templates[phase.name] = PromptTemplate(env, phase.template, directory, allowed)

    @property
    def name(self) -> str:
        return self.spec.name

    def with_overrides(self, **updates: object) -> Protocol:
        """A copy with fields replaced (validated; e.g. ``rounds=3``)."""
        data = self.spec.model_dump()
        data.update({k: v for k, v in updates.items() if v is not None})
        try:
            spec = ProtocolSpec.model_validate(data)
        except ValidationError as exc:
            raise pydantic_error_line(exc, self.source, "protocol spec") from None
        return Protocol(spec, self.directory, self.source)


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
    return Protocol(spec, path.parent, path)


def list_protocols() -> list[Path]:
    return sorted(builtin_dir("protocols").glob("*.yaml"))
