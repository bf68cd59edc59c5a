"""The points of a sweep: (protocol, graph, pool, seed), each with an id that hashes what decides its debates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agora.experiment.spec import ExperimentSpec, persona_cards, resolve_pool, resolve_protocol
from agora.graph import GraphSpec
from agora.persona import Persona
from agora.protocol.loader import Protocol
from agora.transcript import canonical_hash

#: how agents' answers are read in a sweep (part of every configuration id: rows read another way run again).
#: "task": the item's canonical answer (agora.tasks.extract), merged only when identical
ANSWERS = "task"


@dataclass(frozen=True)
class Configuration:
    """One point of the sweep, without the item."""

    protocol_name: str
    protocol: Protocol
    graph: str
    pool: str
    personas: tuple[Persona, ...]
    seed: int

    @property
    def id(self) -> str:
        templates = {name: t.source for name, t in sorted(self.protocol.templates.items())}
        templates["system"] = self.protocol.system_template.source
        return canonical_hash(
            {
                "protocol": self.protocol.spec.model_dump(mode="json"),
                "templates": templates,
                "personas": [p.model_dump(mode="json") for p in self.personas],
                "seed": self.seed,
                "names": [self.protocol_name, self.graph, self.pool],
                "answers": ANSWERS,
            }
        )[:16]

    @property
    def label(self) -> str:
        return f"{self.protocol_name} · {self.graph} · {self.pool} · seed {self.seed}"


def _talks(protocol: Protocol) -> bool:
    """Whether any agent ever reads another's message (else the graph does not matter)."""
    return any(p.kind in ("critique", "revise") for p in protocol.spec.phases)


def _graph_labels(graphs: list[GraphSpec]) -> list[str]:
    kinds = [g.kind for g in graphs]
    return [k if kinds.count(k) == 1 else f"{k}-{i + 1}" for i, k in enumerate(kinds)]


def configurations(spec: ExperimentSpec, source: Path) -> list[Configuration]:
    """Every (protocol, graph, pool, seed) the spec asks for, in spec order; validates every reference."""
    base = source.parent
    cards = persona_cards(spec, base)
    pools = {name: tuple(resolve_pool(name, agents, cards, source)) for name, agents in spec.pools.items()}
    configs = []
    for index, entry in enumerate(spec.protocols):
        protocol = resolve_protocol(entry, base, source, index)
        graphs: list[tuple[str, Protocol]] = [("own" if _talks(protocol) else "none", protocol)]
        if spec.graphs and _talks(protocol):
            graphs = [
                (label, protocol.with_overrides(graph=g.model_dump()))
                for label, g in zip(_graph_labels(spec.graphs), spec.graphs, strict=True)
            ]
        for pool in entry.pools or list(spec.pools):
            for graph_label, graphed in graphs:
                for seed in spec.seeds:
                    configs.append(Configuration(entry.name, graphed, graph_label, pool, pools[pool], seed))
    return configs
