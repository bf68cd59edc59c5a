"""The shipped protocol library: sequential turns (chateval) and the sparse ring (sparse)."""

from __future__ import annotations

from conftest import make_persona

import agora

NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]


def favour_first(request):
    return [-1.0 if i == 0 else -2.0 for i in range(len(request.continuations))]


def run(protocol, names=NAMES):
    backend = agora.ScriptedBackend(
        lambda r: f"Answer: {r.agent} says {r.phase}{r.seed % 7}.", scorer=favour_first
    )
    result = agora.Debate([make_persona(n) for n in names], protocol, backend=backend).run_sync("Q?")
    return result, backend


def test_chateval_speakers_hear_earlier_speakers_of_the_same_round():
    result, backend = run("chateval", NAMES[:3])
    t = result.transcript
    r1 = {m.agent: m for m in t.phase_messages(1, "discuss")}
    # round 1: the first speaker hears nobody, the second the first, the third both
    assert r1["alpha"].seen == [] and r1["bravo"].seen == [r1["alpha"].id]
    assert sorted(r1["charlie"].seen) == sorted([r1["alpha"].id, r1["bravo"].id])
    # round 2: alpha hears round 1 of the others; bravo also hears alpha's round-2 turn
    r2 = {m.agent: m for m in t.phase_messages(2, "discuss")}
    assert set(r2["alpha"].seen) == {r1["bravo"].id, r1["charlie"].id, r1["alpha"].id}
    assert r2["alpha"].id in r2["bravo"].seen and r1["charlie"].id in r2["bravo"].seen
    # turns run one after another, in debate order, and the prompt shows the earlier turn
    discuss = [q for q in backend.requests if q.phase == "discuss"]
    assert [q.agent for q in discuss] == ["alpha", "bravo", "charlie"] * 2
    assert "- alpha: Alpha says discuss" in discuss[1].messages[-1].content
    assert result.outcome is not None and len(t.ballots) == 3


def test_sparse_agents_hear_only_their_ring_neighbours():
    result, _ = run("sparse")
    t = result.transcript
    assert len(t.header.graph) == 2 * len(NAMES)
    critiques = {m.agent: m for m in t.phase_messages(1, "critique")}
    # on a bidirectional ring each agent sees exactly two proposals
    assert all(len(m.seen) - 1 == 2 for m in critiques.values())  # + its own latest answer
    assert {s.split(".")[-1] for s in critiques["alpha"].seen} == {"bravo", "echo", "alpha"}
