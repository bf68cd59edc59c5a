"""Interaction graphs: built from a spec, or supplied by the user and checked against the agents."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from pydantic import ValidationError

from agora import ConfigError, GraphSpec, build_graph
from agora.graph import check_graph, in_neighbours, out_neighbours

NAMES = ["a1", "b2", "c3", "d4", "e5"]
N = len(NAMES)


def edge_set(g: nx.DiGraph) -> set[tuple[str, str]]:
    return set(g.edges())


def test_complete():
    g = build_graph(GraphSpec(kind="complete"), NAMES)
    assert isinstance(g, nx.DiGraph)
    assert list(g.nodes) == NAMES
    assert g.number_of_edges() == N * (N - 1)
    assert not any(u == v for u, v in g.edges)
    for name in NAMES:
        assert in_neighbours(g, name) == sorted(n for n in NAMES if n != name)


def test_default_spec_is_complete():
    assert build_graph(GraphSpec(), NAMES).number_of_edges() == N * (N - 1)


def test_ring_bidirectional():
    g = build_graph(GraphSpec(kind="ring"), NAMES)
    assert g.number_of_edges() == 2 * N
    for i, name in enumerate(NAMES):
        assert g.in_degree(name) == 2 and g.out_degree(name) == 2
        assert set(in_neighbours(g, name)) == {NAMES[i - 1], NAMES[(i + 1) % N]}


def test_ring_one_way():
    g = build_graph(GraphSpec(kind="ring", bidirectional=False), NAMES)
    assert g.number_of_edges() == N
    for i, name in enumerate(NAMES):
        assert g.in_degree(name) == 1 and g.out_degree(name) == 1
        assert out_neighbours(g, name) == [NAMES[(i + 1) % N]]
        assert in_neighbours(g, name) == [NAMES[i - 1]]
    assert nx.is_strongly_connected(g)


def test_star_centre_defaults_to_first():
    g = build_graph(GraphSpec(kind="star"), NAMES)
    centre = NAMES[0]
    assert g.number_of_edges() == 2 * (N - 1)
    assert g.in_degree(centre) == N - 1 and g.out_degree(centre) == N - 1
    for leaf in NAMES[1:]:
        assert in_neighbours(g, leaf) == [centre] and out_neighbours(g, leaf) == [centre]


def test_star_one_way_with_named_centre():
    g = build_graph(GraphSpec(kind="star", center="c3", bidirectional=False), NAMES)
    assert edge_set(g) == {("c3", v) for v in NAMES if v != "c3"}
    assert g.in_degree("c3") == 0


def test_star_unknown_centre():
    with pytest.raises(ConfigError) as info:
        build_graph(GraphSpec(kind="star", center="zz"), NAMES, source="spec.yaml")
    assert info.value.field == "graph.center"
    assert "zz" in str(info.value) and "spec.yaml" in str(info.value)


def test_small_world_deterministic_by_seed():
    spec = GraphSpec(kind="small_world", k=2, p=0.5)
    g1 = build_graph(spec, NAMES, seed=11)
    g2 = build_graph(spec, NAMES, seed=11)
    assert edge_set(g1) == edge_set(g2)
    # symmetric, no self-loops, n*k/2 undirected edges
    assert all(g1.has_edge(v, u) for u, v in g1.edges)
    assert not any(u == v for u, v in g1.edges)
    assert g1.number_of_edges() == N * spec.k  # n*k/2 undirected edges, both directions
    # the spec's own seed overrides the debate's seed
    seeded = GraphSpec(kind="small_world", k=2, p=0.5, seed=3)
    assert edge_set(build_graph(seeded, NAMES, seed=1)) == edge_set(build_graph(seeded, NAMES, seed=999))


def test_small_world_seeds_differ_somewhere():
    spec = GraphSpec(kind="small_world", k=2, p=0.9)
    graphs = {frozenset(edge_set(build_graph(spec, NAMES, seed=s))) for s in range(10)}
    assert len(graphs) > 1


def test_small_world_needs_more_agents_than_k():
    with pytest.raises(ConfigError) as info:
        build_graph(GraphSpec(kind="small_world", k=4), NAMES[:4])
    assert info.value.field == "graph.k"


def test_random_seeded():
    spec = GraphSpec(kind="random", p=0.5)
    g1 = build_graph(spec, NAMES, seed=5)
    g2 = build_graph(spec, NAMES, seed=5)
    assert edge_set(g1) == edge_set(g2)
    assert set(g1.nodes) == set(NAMES)
    assert not any(u == v for u, v in g1.edges)
    assert {frozenset(edge_set(build_graph(spec, NAMES, seed=s))) for s in range(10)} != {
        frozenset(edge_set(g1))
    }


def test_random_extremes():
    assert build_graph(GraphSpec(kind="random", p=1.0), NAMES).number_of_edges() == N * (N - 1)
    assert build_graph(GraphSpec(kind="random", p=0.0), NAMES).number_of_edges() == 0


def test_explicit_edges_bidirectional_and_not():
    edges = [("a1", "b2"), ("b2", "c3"), ("c3", "d4"), ("d4", "e5")]
    both = build_graph(GraphSpec(kind="edges", edges=edges), NAMES)
    assert edge_set(both) == set(edges) | {(v, u) for u, v in edges}
    one = build_graph(GraphSpec(kind="edges", edges=edges, bidirectional=False), NAMES)
    assert edge_set(one) == set(edges)


def test_edges_with_unknown_agent_names_agent_and_index():
    edges = [("a1", "b2"), ("b2", "c3"), ("c3", "ghost"), ("d4", "e5")]
    with pytest.raises(ConfigError) as info:
        build_graph(GraphSpec(kind="edges", edges=edges), NAMES, source="proto.yaml")
    assert info.value.field == "graph.edges[2]"
    assert "ghost" in str(info.value)
    assert "proto.yaml" in str(info.value)


def test_agent_in_no_edge():
    edges = [("a1", "b2"), ("b2", "c3"), ("c3", "d4")]
    with pytest.raises(ConfigError) as info:
        build_graph(GraphSpec(kind="edges", edges=edges), NAMES)
    assert "e5" in str(info.value)
    assert info.value.field == "graph.edges"


def test_self_loop_in_edges():
    edges = [("a1", "b2"), ("c3", "c3")]
    with pytest.raises(ConfigError) as info:
        build_graph(GraphSpec(kind="edges", edges=edges), NAMES)
    assert info.value.field == "graph.edges[1]"
    assert "self-loop" in str(info.value)


def test_graph_spec_edges_kind_consistency():
    with pytest.raises(ValidationError):
        GraphSpec(kind="edges")
    with pytest.raises(ValidationError):
        GraphSpec(kind="ring", edges=[("a1", "b2")])
    with pytest.raises(ValidationError):
        GraphSpec(kind="hypercube")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        GraphSpec(kind="ring", colour="red")  # type: ignore[call-arg]


def test_single_agent_graphs_have_no_edges():
    for kind in ("complete", "ring", "star", "random"):
        g = build_graph(GraphSpec(kind=kind), ["solo"])
        assert list(g.nodes) == ["solo"] and g.number_of_edges() == 0


# -- user-supplied graphs ------------------------------------------------------------------------------------------
def test_check_graph_accepts_matching_digraph():
    g = nx.DiGraph([("a1", "b2"), ("b2", "a1")])
    assert check_graph(g, ["a1", "b2"]) is g


def test_check_graph_turns_undirected_into_both_directions():
    g = check_graph(nx.Graph([("a1", "b2")]), ["a1", "b2"])
    assert isinstance(g, nx.DiGraph)
    assert edge_set(g) == {("a1", "b2"), ("b2", "a1")}


def test_check_graph_unknown_agent():
    g = nx.DiGraph([("a1", "b2"), ("b2", "mallory")])
    with pytest.raises(ConfigError) as info:
        check_graph(g, ["a1", "b2"])
    assert "mallory" in str(info.value)
    assert info.value.field == "graph"


def test_check_graph_missing_agent():
    g = nx.DiGraph([("a1", "b2")])
    with pytest.raises(ConfigError) as info:
        check_graph(g, ["a1", "b2", "c3"])
    assert "c3" in str(info.value) and "missing" in str(info.value)


def test_check_graph_self_loop():
    g = nx.DiGraph([("a1", "b2"), ("b2", "b2")])
    with pytest.raises(ConfigError, match="self-loop"):
        check_graph(g, ["a1", "b2"])


def test_check_graph_rejects_non_graph():
    with pytest.raises(ConfigError, match="networkx"):
        check_graph([("a1", "b2")], ["a1", "b2"])  # type: ignore[arg-type]


def test_bidirectional_is_on_by_default_as_the_readme_says():
    # the README's protocol spec shows the option with its default; the shipped protocols and examples (a ring where
    # each agent hears two neighbours, a star whose hub hears every leaf) rely on it
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    line = next(line for line in readme.splitlines() if line.strip().startswith("# bidirectional:"))
    assert "bidirectional: true" in line and "(the default)" in line and "false: one way" in line
    assert GraphSpec().bidirectional is True
    assert GraphSpec.model_fields["bidirectional"].default is True
    ring = build_graph(GraphSpec(kind="ring"), NAMES)
    assert all(ring.in_degree(name) == 2 for name in NAMES)
    one_way = build_graph(GraphSpec(kind="ring", bidirectional=False), NAMES)
    assert all(one_way.in_degree(name) == 1 for name in NAMES)


def test_shipped_protocols_keep_their_graphs():
    from agora.protocol.loader import list_protocols, load_protocol

    for path in list_protocols():
        spec = load_protocol(path).spec.graph
        assert spec.kind in ("complete", "ring"), path
        if spec.kind == "ring":  # sparse: each agent hears its two ring neighbours
            assert spec.bidirectional is True
            graph = build_graph(spec, NAMES)
            assert all(graph.in_degree(name) == 2 for name in NAMES)
