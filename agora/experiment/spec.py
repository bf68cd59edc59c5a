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
        return self


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
