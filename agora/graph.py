"""The interaction graph: who hears whom.

A ``networkx.DiGraph`` over persona names. An edge ``u -> v`` means that ``v`` receives ``u``'s messages. In each
phase an agent sees exactly its in-neighbours' messages from the previous phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agora.errors import ConfigError

GraphKind = Literal["complete", "ring", "star", "small_world", "random", "edges"]


class GraphSpec(BaseModel):
    """How to build the interaction graph from the list of agents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: GraphKind = "complete"
    bidirectional: bool = Field(
        default=True,
        description=(
            "ring/star/edges: also add every reverse edge (the default: ring neighbours and a star's hub and "
            "leaves hear each other); false: each edge one way, as listed"
        ),
    )
    center: str | None = Field(default=None, description="star: the hub agent (default: the first agent)")
    k: int = Field(
        default=2, ge=2, description="small_world: each agent is joined to its k nearest ring neighbours"
    )
    p: float = Field(
        default=0.2, ge=0.0, le=1.0, description="small_world: rewiring probability; random: edge probability"
    )
    seed: int | None = Field(
        default=None, description="random/small_world: graph seed (default: the debate's seed)"
    )
    edges: list[tuple[str, str]] | None = Field(
        default=None, description="edges: explicit list of [sender, receiver]"
    )

    @model_validator(mode="after")
    def _edges_only_for_edges(self) -> GraphSpec:
        if self.kind == "edges" and not self.edges:
            raise ValueError("graph kind 'edges' needs a non-empty 'edges' list")
        if self.kind != "edges" and self.edges:
            raise ValueError(f"'edges' given but graph kind is {self.kind!r}; use kind: edges")
        return self


#: the most edges an interaction graph may hold: each edge is a message shown to an agent in every phase
MAX_EDGES = 200_000


def _check_size(edges: int, source: str | None) -> None:
    if edges > MAX_EDGES:
        raise ConfigError(
            f"the interaction graph would have {edges} edges, more than the {MAX_EDGES} allowed "
            "(every edge is a message in a prompt in every phase; use a sparser graph)",
            source=source,
            field="graph",
        )


def build_graph(
    spec: GraphSpec, agents: Sequence[str], seed: int = 0, source: str | None = None
) -> nx.DiGraph:
    """Build the interaction graph for ``agents`` (persona names, in order)."""
    names = list(agents)
    n = len(names)
    graph_seed = spec.seed if spec.seed is not None else seed
    g = nx.DiGraph()
    g.add_nodes_from(names)
    if spec.kind == "complete":
        _check_size(n * (n - 1), source)  # before building it: 10,000 agents would be 100 million edges
        g.add_edges_from((u, v) for u in names for v in names if u != v)
    elif spec.kind == "ring":
        for i, u in enumerate(names):
            if n > 1:
                g.add_edge(u, names[(i + 1) % n])
    elif spec.kind == "star":
        center = spec.center or names[0]
        if center not in g:
            raise ConfigError(
                f"star centre {center!r} is not one of the agents {names}",
                source=source,
                field="graph.center",
            )
        g.add_edges_from((center, v) for v in names if v != center)
    elif spec.kind == "small_world":
        if n <= spec.k:
            raise ConfigError(
                f"small_world needs more agents than k={spec.k} (got {n})", source=source, field="graph.k"
            )
        ug = nx.watts_strogatz_graph(n, spec.k, spec.p, seed=graph_seed)
        g.add_edges_from((names[a], names[b]) for a, b in ug.edges())
        g.add_edges_from((names[b], names[a]) for a, b in ug.edges())
    elif spec.kind == "random":
        _check_size(round(spec.p * n * (n - 1)), source)  # the expected size, before drawing it
        rg = nx.gnp_random_graph(n, spec.p, seed=graph_seed, directed=True)
        g.add_edges_from((names[a], names[b]) for a, b in rg.edges())
    elif spec.kind == "edges":
        assert spec.edges is not None
        for i, (u, v) in enumerate(spec.edges):
            for who in (u, v):
                if who not in g:
                    raise ConfigError(
                        f"edge {u} -> {v} names unknown agent {who!r} (agents: {', '.join(names)})",
                        source=source,
                        field=f"graph.edges[{i}]",
                    )
            if u == v:
                raise ConfigError(
                    f"self-loop {u} -> {v} is not allowed", source=source, field=f"graph.edges[{i}]"
                )
            g.add_edge(u, v)
        lonely = [a for a in names if g.degree(a) == 0]
        if lonely and n > 1:
            raise ConfigError(
                f"agent {lonely[0]!r} appears in no edge of the graph", source=source, field="graph.edges"
            )
    if spec.bidirectional and spec.kind in ("ring", "star", "edges"):
        g.add_edges_from([(v, u) for u, v in list(g.edges())])
    _check_size(g.number_of_edges(), source)
    return g


def check_graph(graph: nx.DiGraph, agents: Sequence[str]) -> nx.DiGraph:
    """Validate a user-supplied graph against the agents' names; return it as a DiGraph."""
    if not isinstance(graph, nx.DiGraph):
        if isinstance(graph, nx.Graph):
            graph = graph.to_directed()
        else:
            raise ConfigError(
                f"interaction graph must be a networkx graph, got {type(graph).__name__}", field="graph"
            )
    names = set(agents)
    for node in graph.nodes:
        if node not in names:
            raise ConfigError(
                f"graph names unknown agent {node!r} (agents: {', '.join(agents)})", field="graph"
            )
    for name in agents:
        if name not in graph:
            raise ConfigError(f"agent {name!r} is missing from the interaction graph", field="graph")
    _check_size(graph.number_of_edges(), None)
    for u, v in graph.edges:
        if u == v:
            raise ConfigError(f"self-loop {u} -> {v} is not allowed", field="graph")
    return graph


def in_neighbours(graph: nx.DiGraph, agent: str) -> list[str]:
    """Agents whose messages ``agent`` receives, in a stable order."""
    return sorted(graph.predecessors(agent))


def out_neighbours(graph: nx.DiGraph, agent: str) -> list[str]:
    """Agents who receive ``agent``'s messages, in a stable order."""
    return sorted(graph.successors(agent))
