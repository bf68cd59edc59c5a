"""Experiment specs: what a sweep runs (protocols x graphs x persona pools x seeds x task items).

```yaml
name: participation-mini
tasks:                                  # task sets (agora.tasks) and how many items of each
  - {task: boolq, n: 6}
  - {task: strategy-qa, n: 6, seed: 1}  # seed of the subset (default 0): same items in every configuration
protocols:                              # shipped names or spec paths; `pools` limits a protocol to some pools
  - vote
  - {protocol: task_debate, rounds: 2}
  - {protocol: single, pools: [alone]}
  - {protocol: self_consistency, pools: [sampled], budget_of: [vote]}   # also read at vote's token budget
graphs: [complete, ring]                # optional; graph kinds or graph specs (default: each protocol's own)
pools:                                  # name -> agents; each agent is a persona card, optionally changed
  trio: [{persona: empirica}, {persona: hygieia}, {persona: aequitas}]
  alone: [{persona: empirica}]
  sampled: [{persona: empirica, copies: 3, temperature: 0.7}]
seeds: [0]                              # run seeds (sampling, ballot order, tie-breaks)
personas: my_cards/                     # optional: card files or directories (default: the shipped cards)
contrasts:                              # optional: paired comparisons in the summary (agora.experiment.contrasts)
  - task_debate: vote                   # PROTOCOL, PROTOCOL/POOL or PROTOCOL/GRAPH/POOL, naming one system each
  - [vote/trio, single]
exclude_items: {boolq: ["3", "17"]}     # optional: development items, neither run nor scored (or a file of this)
```
Relative paths are read from the spec file's directory. Unknown fields are an error naming the file and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agora._yaml import read_model
from agora.errors import ConfigError
from agora.graph import GraphSpec
from agora.persona import GenerationSettings, Persona, load_personas
from agora.protocol.loader import Protocol, load_protocol
from agora.tasks import get_task

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskEntry(_Strict):
    task: str
    n: int | None = Field(default=None, ge=1, description="items drawn (default: all)")
    seed: int = Field(default=0, ge=0, description="seed of the subset")

    @field_validator("task")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            get_task(value)
        except ConfigError as exc:
            raise ValueError(exc.detail) from None
        return value


class ProtocolEntry(_Strict):
    protocol: str
    rounds: int | None = Field(default=None, ge=1, le=20)
    label: str | None = Field(
        default=None, pattern=NAME, description="name in the results (default: protocol)"
    )
    pools: list[str] | None = Field(default=None, description="run only with these pools")
    budget_of: list[str] | None = Field(
        default=None,
        min_length=1,
        description="self-consistency: also read this protocol's samples at the generated tokens of these "
        "protocols (labels), item by item (agora.experiment.budget)",
    )

    @property
    def name(self) -> str:
        return self.label or Path(self.protocol).stem


class AgentEntry(_Strict):
    persona: str = Field(description="a persona card's name")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,47}$")
    model: str | None = Field(default=None, description="replaces the card's model")
    copies: int = Field(default=1, ge=1, le=64, description="this many agents (self-consistency samples)")
    temperature: float | None = Field(default=None, ge=0.0, le=5.0)
    max_new_tokens: int | None = Field(default=None, ge=1, le=4096)


def _shorthand(value: Any, key: str) -> Any:
    """A list entry given as a bare string stands for ``{key: string}`` (``- vote`` for ``- {protocol: vote}``)."""
    if isinstance(value, list):
        return [{key: v} if isinstance(v, str) else v for v in value]
    return value


class ExperimentSpec(_Strict):
    name: str = Field(pattern=NAME)
    description: str = ""
    tasks: list[TaskEntry] = Field(min_length=1)
    protocols: list[ProtocolEntry] = Field(min_length=1)
    graphs: list[GraphSpec] | None = Field(default=None, min_length=1)
    pools: dict[str, list[AgentEntry]] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    personas: list[str] | None = Field(default=None, description="card files or directories")
    contrasts: list[tuple[str, str]] = Field(
        default_factory=list,
        description="pairs of systems compared item by item in the summary: `A: B` or `[A, B]`",
    )
    exclude_items: dict[str, list[str]] | str | None = Field(
        default=None,
        description="development items left out of the sweep, {task: [item ids]}, or a YAML/JSON file of that",
    )

    @field_validator("contrasts", mode="before")
    @classmethod
    def _contrast_pairs(cls, value: Any) -> Any:
        """``- A: B`` (a one-key mapping) and ``- [A, B]`` both stand for the pair (A, B)."""
        if not isinstance(value, list):
            return value
        pairs = []
        for entry in value:
            if isinstance(entry, dict) and len(entry) == 1:
                entry = next(iter(entry.items()))
            if not isinstance(entry, (list, tuple)) or len(entry) != 2:
                raise ValueError(f"a contrast is written `A: B` or `[A, B]`, got {entry!r}")
            if not all(isinstance(side, (str, int)) and not isinstance(side, bool) for side in entry):
                raise ValueError(f"a contrast names two systems, got {entry!r}")
            pairs.append((str(entry[0]).strip(), str(entry[1]).strip()))
        return pairs

    @field_validator("contrasts")
    @classmethod
    def _distinct_pairs(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for i, (a, b) in enumerate(value):
            if not a or not b:
                raise ValueError(f"contrast {i + 1} leaves a side empty")
            if a == b:
                raise ValueError(f"contrast {i + 1} compares {a!r} with itself")
            if (a, b) in value[:i]:
                raise ValueError(f"contrast {i + 1} ({a}: {b}) is listed twice")
        return value

    @field_validator("exclude_items", mode="before")
    @classmethod
    def _item_ids(cls, value: Any) -> Any:
        return value if value is None or isinstance(value, str) else excluded_mapping(value)

    @field_validator("protocols", mode="before")
    @classmethod
    def _protocol_names(cls, value: Any) -> Any:
        return _shorthand(value, "protocol")

    @field_validator("tasks", mode="before")
    @classmethod
    def _task_names(cls, value: Any) -> Any:
        return _shorthand(value, "task")

    @field_validator("graphs", mode="before")
    @classmethod
    def _graph_kinds(cls, value: Any) -> Any:
        return _shorthand(value, "kind")

    @field_validator("personas", mode="before")
    @classmethod
    def _one_path(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int]) -> list[int]:
        if any(s < 0 for s in value) or len(set(value)) != len(value):
            raise ValueError("seeds must be distinct non-negative integers")
        return value

    @model_validator(mode="after")
    def _references(self) -> ExperimentSpec:
        for name, agents in self.pools.items():
            if not agents:
                raise ValueError(f"pool {name!r} has no agents")
        labels = [p.name for p in self.protocols]
        for label in labels:
            if labels.count(label) > 1:
                raise ValueError(f"two protocols are named {label!r}; give one a 'label'")
        for entry in self.protocols:
            for pool in entry.pools or []:
                if pool not in self.pools:
                    raise ValueError(f"protocol {entry.name!r} names unknown pool {pool!r}")
            for other in entry.budget_of or []:
                if other not in labels or other == entry.name:
                    raise ValueError(
                        f"protocol {entry.name!r}: budget_of names {other!r}, which is not another protocol "
                        f"of this spec (have: {', '.join(labels)})"
                    )
        if isinstance(self.exclude_items, dict):
            check_excluded_tasks(self.exclude_items, [t.task for t in self.tasks])
        return self


def excluded_mapping(value: Any) -> dict[str, list[str]]:
    """An exclusion mapping, task -> item ids, checked and with its ids as text (YAML reads ``- 17`` as a number);
    a ``ValueError`` saying what is wrong otherwise."""
    if not isinstance(value, dict):
        raise ValueError("expected {task: [item ids]}, or the name of a YAML/JSON file holding that mapping")
    mapping: dict[str, list[str]] = {}
    for task, ids in value.items():
        if not isinstance(ids, list) or not all(
            isinstance(i, (str, int)) and not isinstance(i, bool) and str(i).strip() for i in ids
        ):
            raise ValueError(f"task {task!r}: expected a list of item ids, got {ids!r}")
        mapping[str(task)] = [str(i).strip() for i in ids]
    return mapping


def check_excluded_tasks(excluded: dict[str, list[str]], tasks: list[str]) -> None:
    """Every task an exclusion names must be one of the spec's tasks."""
    for task in excluded:
        if task not in tasks:
            raise ValueError(
                f"exclude_items names task {task!r}, which the spec does not run (tasks: {', '.join(tasks)})"
            )


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate an experiment spec; errors name the file and the field."""
    return read_model(Path(path), ExperimentSpec, "experiment spec")


def _relative(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def resolve_protocol(entry: ProtocolEntry, base: Path, source: Path, index: int) -> Protocol:
    """The protocol an entry names, with its overrides applied."""
    ref: str | Path = entry.protocol
    if "/" in entry.protocol or entry.protocol.endswith((".yaml", ".yml")):
        ref = _relative(base, entry.protocol)
    try:
        protocol = load_protocol(ref)
    except ConfigError as exc:
        if exc.source is None:
            raise ConfigError(exc.detail, source=source, field=f"protocols.{index}.protocol") from None
        raise
    return protocol.with_overrides(rounds=entry.rounds) if entry.rounds else protocol


def resolve_pool(
    name: str, agents: list[AgentEntry], cards: dict[str, Persona], source: Path
) -> list[Persona]:
    """The personas of a pool: each card with the entry's changes, ``copies`` times (named NAME-1, NAME-2, ...)."""
    personas: list[Persona] = []
    for i, agent in enumerate(agents):
        card = cards.get(agent.persona)
        if card is None:
            raise ConfigError(
                f"no persona card named {agent.persona!r} (have: {', '.join(sorted(cards))})",
                source=source,
                field=f"pools.{name}.{i}.persona",
            )
        update: dict[str, Any] = {}
        if agent.model is not None:
            update["model"] = agent.model
        gen = card.generation.model_dump()
        if agent.temperature is not None:
            gen["temperature"] = agent.temperature
        if agent.max_new_tokens is not None:
            gen["max_new_tokens"] = agent.max_new_tokens
        update["generation"] = GenerationSettings.model_validate(gen)
        base_name = agent.name or card.name
        for copy in range(1, agent.copies + 1):
            label = base_name if agent.copies == 1 else f"{base_name}-{copy}"
            personas.append(card.model_copy(update={**update, "name": label}))
    names = [p.name for p in personas]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError(
                f"agent name {n!r} appears twice in the pool; give one a 'name'",
                source=source,
                field=f"pools.{name}",
            )
    return personas


def persona_cards(spec: ExperimentSpec, base: Path) -> dict[str, Persona]:
    sources = [_relative(base, p) for p in spec.personas] if spec.personas else None
    return {p.name: p for p in load_personas(sources)}
