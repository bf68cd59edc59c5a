"""Load: 1,000 agents on a sparse small-world graph for 3 rounds (scripted backend), and the engine's cost per
message staying flat as the number of agents grows."""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from agora import Debate, Persona, ScriptedBackend, Transcript, load_protocol
from agora.aggregation.candidates import merge_answers, same_answer
from agora.graph import in_neighbours


def _benchmark():
    """``benchmarks/bench_engine.py`` as a module: the load test and the benchmark build the same crowd."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_engine.py"
    spec = importlib.util.spec_from_file_location("bench_engine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BENCH = _benchmark()
ANSWERS = _BENCH.ANSWERS


def crowd(n: int, seed: int = 0) -> tuple[list[Persona], nx.DiGraph]:
    """``n`` generated personas and a connected small-world graph over them (6 neighbours, 10% rewired)."""
    return _BENCH.crowd(n, 6, 0.1, seed)


def reply(request) -> str:
    if request.phase == "vote":
        return "Ranking: C, A, B" if int(request.agent[5:]) % 4 == 0 else "Ranking: A, B, C"
    return (
        f"Answer: {ANSWERS[int(request.agent[5:]) % 3]}\nBecause {request.agent} said so in {request.phase}."
    )


def run(n: int, rounds: int, out=None):
    people, graph = crowd(n)
    backend = ScriptedBackend(reply)
    protocol = load_protocol("debate").with_overrides(rounds=rounds)
    start = time.perf_counter()
    result = Debate(people, protocol, graph=graph, backend=backend, seed=1).run_sync(
        "Close the square?", out=out
    )
    return result, graph, backend, time.perf_counter() - start


def test_a_thousand_agents_three_rounds(tmp_path):
    out = tmp_path / "crowd.jsonl"
    result, graph, backend, seconds = run(1000, 3, out)
    assert seconds < 300, f"1,000 agents took {seconds:.0f} s"
    t = result.transcript
    assert t.status == "completed"
    assert len(t.messages) == 1000 * (1 + 3 + 3)  # propose once, critique and revise every round
    assert all(m.ok for m in t.messages)
    assert len(t.ballots) == 1000 and result.outcome.voters == 1000
    assert sorted(result.outcome.candidates.values()) == sorted(ANSWERS)
    assert sum(len(m) for m in result.outcome.members.values()) == 1000
    # who saw what: each agent's round-2 revision saw exactly its in-neighbours' round-2 critiques and its own answer
    some = random.Random(0).sample(sorted(graph.nodes), 25)
    for agent in some:
        revision = next(m for m in t.phase_messages(2, "revise") if m.agent == agent)
        expected = [f"r2.critique.{u}" for u in in_neighbours(graph, agent)] + [f"r1.revise.{agent}"]
        assert revision.seen == expected
        assert revision.recipients == sorted(graph.successors(agent))
    saved = Transcript.load(out)
    assert saved.content() == t.content()
    assert len(backend.requests) == 8000


def test_cost_per_message_stays_flat():
    """Side by side in one process: the engine's time per message at 600 agents is not many times that at 150
    (a cost quadratic in the number of agents would make it about four times)."""
    run(50, 1)  # warm up imports and caches
    per_message: dict[int, list[float]] = {}
    for n in (150, 600, 150, 600):
        result, _, _, seconds = run(n, 2)
        per_message.setdefault(n, []).append(seconds / len(result.transcript.messages))
    small, large = min(per_message[150]), min(per_message[600])
    assert large < 2.5 * small, f"{large * 1e3:.2f} ms per message at 600 agents, {small * 1e3:.2f} ms at 150"


def test_merging_a_thousand_different_answers_is_fast():
    words = [
        "park",
        "housing",
        "factory",
        "jobs",
        "river",
        "trees",
        "school",
        "hospital",
        "market",
        "tram",
        "bike",
        "bridge",
        "library",
        "garden",
    ]
    rng = random.Random(0)
    answers = {f"a{i}": " ".join(rng.sample(words, 6)).capitalize() + "." for i in range(1000)}
    start = time.perf_counter()
    merged = merge_answers(answers)
    assert time.perf_counter() - start < 10
    assert 26 < len(merged) < 1000


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.lists(
        st.lists(
            st.sampled_from(
                ["yes", "no", "not", "the", "park", "cars", "ban", "should", "never", "city,", "."]
            ),
            max_size=7,
        ),
        min_size=1,
        max_size=12,
    ),
    st.floats(min_value=0.1, max_value=1.0),
)
def test_merging_groups_as_pairwise_comparison_does(word_lists, threshold):
    """The fast merge makes the same groups as comparing each answer with each group's first answer."""
    answers = {f"a{i}": " ".join(words) for i, words in enumerate(word_lists)}
    groups: list[list[str]] = []
    for agent, answer in answers.items():
        home = next((g for g in groups if same_answer(answers[g[0]], answer, threshold)), None)
        if home is None:
            groups.append([agent])
        else:
            home.append(agent)
    assert [list(c.members) for c in merge_answers(answers, threshold)] == groups


def test_engine_benchmark_runs_and_ends_with_its_figures():
    """``benchmarks/bench_engine.py`` on a small crowd: its last two lines carry the per-message cost and memory."""
    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_engine.py"
    proc = subprocess.run(
        [sys.executable, str(bench), "--sizes", "30,60", "--repeats", "1", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    *_, overhead, memory = proc.stdout.strip().splitlines()
    figures = dict(item.split("=") for item in overhead.split() + memory.split())
    assert set(figures) == {
        "overhead_per_message_ms_30",
        "overhead_per_message_ms_60",
        "peak_memory_mb_30",
        "peak_memory_mb_60",
    }
    assert all(float(v) > 0 for v in figures.values())
