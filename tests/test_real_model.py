"""What a user sees with the real embedded model (SmolLM2-135M-Instruct). Marked slow; CI runs them."""

from __future__ import annotations

import networkx as nx
import pytest

from agora import Debate, Transcript, load_personas
from agora.backends.base import Backend, Generation, GenerationRequest
from agora.cli import main

pytestmark = pytest.mark.slow

QUESTION = "Should cities ban cars from their centres?"
AGENTS = ["verdant", "enterprise", "libertas", "hygieia"]


class Recording(Backend):
    """Wraps a backend and keeps every request, so tests can read the prompts the model saw."""

    def __init__(self, inner: Backend):
        self.inner = inner
        self.name = inner.name
        self.requests: list[GenerationRequest] = []

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    async def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        return await self.inner.generate(request)

    def describe(self) -> dict:
        return self.inner.describe()


@pytest.fixture(scope="module")
def personas():
    chosen = [p for p in load_personas() if p.name in AGENTS]
    assert len(chosen) == 4
    return chosen


@pytest.fixture(scope="module")
def ring_run(personas, tmp_path_factory):
    """One real debate on a directed ring: verdant -> enterprise -> hygieia -> libertas -> verdant."""
    from agora.backends.transformers.backend import TransformersBackend

    backend = Recording(TransformersBackend("smollm2-135m-instruct"))
    order = ["verdant", "enterprise", "hygieia", "libertas"]
    ring = nx.DiGraph([(order[i], order[(i + 1) % 4]) for i in range(4)])
    out = tmp_path_factory.mktemp("ring") / "ring.jsonl"
    result = Debate(personas, "debate", graph=ring, rounds=1, seed=3, backend=backend).run_sync(
        QUESTION, out=out
    )
    return result, backend, ring, out


def test_real_debate_proposes_critiques_along_the_graph_and_votes(ring_run):
    result, backend, ring, out = ring_run
    t = result.transcript
    assert t.status == "completed"
    assert t.header.models["smollm2-135m-instruct"]["backend"] == "transformers"
    assert len(t.header.models["smollm2-135m-instruct"]["sha256"]) == 64

    proposals = t.phase_messages(1, "propose")
    assert sorted(m.agent for m in proposals) == sorted(AGENTS)
    for m in proposals:
        assert m.ok and len(m.text.split()) >= 3, m
        assert m.answer
        assert m.completion_tokens > 0 and m.prompt_tokens > 0
    by_agent = {m.agent: m for m in proposals}

    critiques = t.phase_messages(1, "critique")
    assert len(critiques) == 4
    for m in critiques:
        (sender,) = ring.predecessors(m.agent)
        assert m.recipients == list(ring.successors(m.agent))
        # exactly its in-neighbour's proposal (and its own), never anything from the critique phase
        assert set(m.seen) == {f"r1.propose.{sender}", f"r1.propose.{m.agent}"}

    # The prompts the model really saw: a critic sees its in-neighbour's answer and no other agent's.
    critique_prompts = {r.agent: r.messages[-1].content for r in backend.requests if r.phase == "critique"}
    for agent, prompt in critique_prompts.items():
        (sender,) = ring.predecessors(agent)
        assert f"- {sender}: {by_agent[sender].answer}" in prompt
        for other in AGENTS:
            if other not in (sender, agent):
                assert f"- {other}:" not in prompt

    ballots = t.ballots
    assert sorted(b.agent for b in ballots) == sorted(AGENTS)
    for b in ballots:
        flat = [c for tier in b.ranking for c in tier]
        assert not b.ranking or sorted(flat) == sorted(AGENTS)
        assert b.parse
    outcome = t.outcome
    assert outcome is not None and outcome.winner in AGENTS
    assert outcome.answer == outcome.candidates[outcome.winner]
    assert set(outcome.scores) >= {"borda", "plurality"}


def test_real_transcript_reloads_and_shows(ring_run, capsys):
    result, _, _, out = ring_run
    loaded = Transcript.load(out)
    assert loaded.content() == result.transcript.content()
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "round 1 · critique" in shown and "Winner:" in shown


def test_cli_run_is_deterministic_and_matches_the_api(personas, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "run",
            "--question",
            QUESTION,
            "--only",
            "verdant,enterprise,hygieia",
            "--rounds",
            "1",
            "--seed",
            "7",
            "--out",
            "cli.jsonl",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Winner:" in captured.out and "Transcript: cli.jsonl" in captured.out
    assert "[round 1/1] propose" in captured.err  # visible progress
    from_cli = Transcript.load(tmp_path / "cli.jsonl")

    chosen = [p for p in personas if p.name in ("verdant", "enterprise", "hygieia")]
    again = Debate(chosen, "debate", rounds=1, seed=7).run_sync(QUESTION)
    assert again.transcript.content() == from_cli.content()


def test_scored_ballots_on_the_real_model_give_utilities_dissent_and_value_conflict(personas, tmp_path):
    out = tmp_path / "scored.jsonl"
    result = Debate(personas, protocol="debate_scored", rounds=1, seed=0).run_sync(QUESTION, out=out)
    t = Transcript.load(out)
    candidates = set(t.outcome.candidates)
    assert len(t.ballots) == len(AGENTS)
    for ballot in t.ballots:
        assert ballot.error is None and ballot.parse == "scored"
        assert (
            set(ballot.utilities) == candidates
        )  # a utility for every candidate, from the voter's own model
        assert abs(sum(ballot.utilities.values()) - 1) < 1e-4
        assert all(lp < 0 for lp in ballot.logprobs.values())
        assert ballot.ranking[0][0] == max(ballot.utilities, key=ballot.utilities.get)
    outcome = t.outcome
    assert outcome.rule == "score" and outcome.winner in candidates
    assert outcome.scores["score"][outcome.winner] == max(outcome.scores["score"].values())
    # the dissent and value-conflict report is in the transcript, consistent with the ballots
    assert [d["agent"] for d in outcome.dissent] == outcome.dissenters
    conflict = outcome.value_conflict
    assert sorted(conflict["supporters"] + conflict["opposition"]) == sorted(AGENTS)
    assert set(conflict["supporters_values"]) <= {v for p in personas for v in p.values}
    assert result.answer == outcome.answer


def test_mediator_synthesis_on_the_real_model(personas, tmp_path):
    out = tmp_path / "deliberation.jsonl"
    three = [p for p in personas if p.name in ("verdant", "enterprise", "libertas")]
    result = Debate(three, protocol="deliberation", seed=0).run_sync(QUESTION, out=out)
    t = Transcript.load(out)
    drafts = t.phase_messages(1, "draft")
    assert len(drafts) == 4 and all(d.ok and d.text for d in drafts)
    assert len({d.text for d in drafts}) >= 2  # sampled with their own seeds, the drafts differ
    for ballot in t.ballots:  # each agent's model scored every (merged) draft
        assert ballot.parse == "scored" and set(ballot.utilities) == set(t.outcome.candidates)
    outcome = t.outcome
    assert outcome.rule == "schulze" and outcome.winner in outcome.candidates
    critiques = t.phase_messages(1, "critique_draft")
    assert len(critiques) == 3 and {c.seen[0] for c in critiques} == {outcome.mediation["winning_draft"]}
    (revision,) = t.phase_messages(1, "revise_draft")
    assert outcome.mediation["revised"] and outcome.answer == revision.text != ""
    assert result.answer == outcome.answer
