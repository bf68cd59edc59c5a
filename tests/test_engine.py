"""The engine, end to end on a scripted backend: who sees what, concurrency, faults, quorum, determinism."""

from __future__ import annotations

import asyncio
import json
import time
from itertools import pairwise

import networkx as nx
import pytest
from conftest import answer_token, make_persona, make_reply

import agora
from agora import ConfigError, Debate, DebateError, ModelNotFoundError, ScriptedBackend, Transcript
from agora.errors import TranscriptError
from agora.transcript import EndEvent, MessageEvent, PhaseEvent

NAMES = ["alpha", "bravo", "charlie", "delta"]
RING_ORDER = ["alpha", "bravo", "charlie", "delta"]  # alpha -> bravo -> charlie -> delta -> alpha
QUESTION = "Should the town square be closed to cars?"

# alpha, bravo and charlie agree; delta ranks everything the other way round
PREFERENCES = {
    "alpha": ["alpha", "bravo", "charlie", "delta"],
    "bravo": ["alpha", "bravo", "charlie", "delta"],
    "charlie": ["alpha", "bravo", "charlie", "delta"],
    "delta": ["delta", "charlie", "bravo", "alpha"],
}


def ring_graph() -> nx.DiGraph:
    return nx.DiGraph(
        [(RING_ORDER[i], RING_ORDER[(i + 1) % len(RING_ORDER)]) for i in range(len(RING_ORDER))]
    )


def personas(names=NAMES) -> list[agora.Persona]:
    return [make_persona(n) for n in names]


def prompt_text(request: agora.GenerationRequest) -> str:
    return "\n".join(m.content for m in request.messages)


def one_round(**overrides) -> agora.Protocol:
    return agora.load_protocol("debate").with_overrides(rounds=1, **overrides)


def failing_reply(bad: dict[tuple[str, str], object]):
    """Like make_reply(), but (agent, phase) -> a reply or exception override."""
    base = make_reply()

    def reply(request):
        return bad.get((request.agent, request.phase), base(request))

    return reply


@pytest.fixture
async def ring_run(tmp_path):
    backend = ScriptedBackend(make_reply(PREFERENCES, NAMES))
    graph = ring_graph()
    out = tmp_path / "ring.jsonl"
    result = await Debate(personas(), "debate", graph=graph, seed=3, backend=backend).run(QUESTION, out=out)
    return result, backend, graph, out


# -- the graph decides who sees what -------------------------------------------------------------------------------
async def test_one_proposal_per_agent_in_round_one(ring_run):
    result, _, _, _ = ring_run
    t = result.transcript
    assert t.status == "completed"
    proposals = t.phase_messages(1, "propose")
    assert sorted(m.agent for m in proposals) == sorted(NAMES)
    assert all(m.ok and m.answer for m in proposals)
    assert all(m.seen == [] for m in proposals)  # nothing to see before the first phase
    assert t.phase_messages(2, "propose") == []  # 'when: first'


async def test_phase_order_and_message_ids(ring_run):
    result, _, _, _ = ring_run
    phases = []
    for m in result.transcript.messages:
        if (m.round, m.phase) not in phases:
            phases.append((m.round, m.phase))
        assert m.id == f"r{m.round}.{m.phase}.{m.agent}"
    assert phases == [(1, "propose"), (1, "critique"), (1, "revise"), (2, "critique"), (2, "revise")]


async def test_seen_is_in_neighbours_previous_phase_plus_own_latest(ring_run):
    result, _, graph, _ = ring_run
    t = result.transcript
    sequence = [(1, "propose"), (1, "critique"), (1, "revise"), (2, "critique"), (2, "revise")]
    latest: dict[str, str] = {}  # agent -> id of its latest proposal or revision
    checked = 0
    for prev, (r, phase) in pairwise(sequence):
        previous_ids = {m.agent: m.id for m in t.phase_messages(*prev)}
        for m in t.phase_messages(*prev):
            if m.kind in ("propose", "revise"):
                latest[m.agent] = m.id
        for m in t.phase_messages(r, phase):
            expected = [previous_ids[u] for u in sorted(graph.predecessors(m.agent))] + [latest[m.agent]]
            assert m.seen == expected, (m.id, m.seen, expected)
            checked += 1
    assert checked == 4 * 4
    # on the ring each critic sees exactly one other agent's proposal
    for m in t.phase_messages(1, "critique"):
        (sender,) = graph.predecessors(m.agent)
        assert set(m.seen) == {f"r1.propose.{sender}", f"r1.propose.{m.agent}"}


async def test_no_agent_sees_its_own_phase_or_the_future(ring_run):
    result, _, _, _ = ring_run
    t = result.transcript
    index = {m.id: i for i, m in enumerate(t.messages)}
    by_id = {m.id: m for m in t.messages}
    for i, m in enumerate(t.messages):
        for seen_id in m.seen:
            seen = by_id[seen_id]
            assert (seen.round, seen.phase) != (m.round, m.phase), (m.id, seen_id)
            assert index[seen_id] < i


async def test_recipients_are_out_neighbours(ring_run):
    result, _, graph, _ = ring_run
    for m in result.transcript.messages:
        assert m.recipients == sorted(graph.successors(m.agent))
        assert len(m.recipients) == 1
    assert sorted(map(tuple, result.transcript.header.graph)) == sorted(graph.edges)


async def test_prompts_contain_in_neighbours_answers_only(ring_run):
    result, backend, graph, _ = ring_run
    t = result.transcript
    by_id = {m.id: m for m in t.messages}
    requests = [r for r in backend.requests if r.phase in ("critique", "revise")]
    assert len(requests) == 4 * 4
    for request in requests:
        me = request.agent
        (sender,) = graph.predecessors(me)
        text = prompt_text(request)
        assert f"TOKEN-{sender}-" in text, (me, text)
        for other in NAMES:
            if other not in (me, sender):
                assert f"TOKEN-{other}-" not in text, (me, other, text)
    # the round-one critic's prompt carries its in-neighbour's answer text as the transcript recorded it
    for request in backend.requests[4:8]:
        assert request.phase == "critique"
        (sender,) = graph.predecessors(request.agent)
        assert by_id[f"r1.propose.{sender}"].answer in prompt_text(request)
        assert answer_token(sender, "propose") in prompt_text(request)


async def test_requests_carry_agent_phase_and_phase_token_limits(ring_run):
    _, backend, _, _ = ring_run
    spec = agora.load_protocol("debate").spec
    limits = {p.name: p.max_new_tokens for p in spec.phases}
    assert len(backend.requests) == 4 * 5 + 4  # five discussion phases, one vote
    for request in backend.requests:
        assert request.agent in NAMES
        assert request.messages[0].role == "system" and request.messages[-1].role == "user"
        assert request.agent in request.messages[0].content
        if limits[request.phase] is not None:
            assert request.max_new_tokens == limits[request.phase]


async def test_ballots_outcome_and_dissent(ring_run):
    result, _, _, _ = ring_run
    t = result.transcript
    ballots = t.ballots
    assert sorted(b.agent for b in ballots) == sorted(NAMES)
    for b in ballots:
        assert b.error is None and b.parse == "ranking-line"
        # the shuffled labels were mapped back to the agents this voter prefers, in order
        assert b.ranking == [[a] for a in PREFERENCES[b.agent]]
        assert sorted(b.labels.values()) == sorted(NAMES)
    outcome = t.outcome
    assert outcome is not None
    assert set(outcome.candidates) == set(NAMES)
    assert outcome.winner in outcome.candidates
    # borda by hand: alpha 3*3 = 9, bravo 3*2 + 1 = 7, charlie 3*1 + 2 = 5, delta 3
    assert outcome.rule == "borda"
    assert outcome.scores["borda"] == {"alpha": 9.0, "bravo": 7.0, "charlie": 5.0, "delta": 3.0}
    assert outcome.scores["plurality"] == {"alpha": 3.0, "bravo": 0.0, "charlie": 0.0, "delta": 1.0}
    assert outcome.winner == "alpha" and result.winner == "alpha"
    assert outcome.dissenters == ["delta"]
    assert outcome.dissenters == [
        b.agent for b in ballots if b.ranking and outcome.winner not in b.ranking[0]
    ]
    assert outcome.voters == 4
    # the final answer is the winner's latest (revised) answer
    assert outcome.answer == t.phase_messages(2, "revise")[0].answer
    assert answer_token("alpha", "revise") in result.answer
    assert result.tally == outcome.scores
    assert "alpha" in str(result)


async def test_transcript_ends_completed_and_reloads(ring_run):
    result, _, _, out = ring_run
    events = result.transcript.events
    assert events[0].type == "header" and events[-1].type == "end" and events[-1].status == "completed"
    assert [e.type for e in events[-3:]] == ["phase", "outcome", "end"]
    loaded = Transcript.load(out)
    assert loaded.content() == result.transcript.content()
    assert not loaded.truncated
    assert loaded.status == "completed"
    assert result.path == out


# -- Debate construction -------------------------------------------------------------------------------------------
def test_graph_naming_an_unknown_agent_is_refused():
    bad = ring_graph()
    bad.add_edge("delta", "eve")
    with pytest.raises(ConfigError, match="eve"):
        Debate(personas(), "debate", graph=bad, backend=ScriptedBackend(make_reply()))


def test_scripted_model_without_backend_is_refused():
    with pytest.raises(ModelNotFoundError) as info:
        Debate(personas(), "debate")
    assert info.value.field == "model"


def test_backends_by_model_reference(scripted):
    debate = Debate(personas(), one_round(), backends={"scripted": scripted})
    assert all(b is scripted for b in debate.backends.values())
    result = debate.run_sync(QUESTION)
    assert result.transcript.status == "completed"


@pytest.mark.parametrize("question", ["", "   ", "\n\t", None, "x" * 5000])
async def test_bad_question_is_refused(scripted, question):
    with pytest.raises(ConfigError) as info:
        await Debate(personas(), one_round(), backend=scripted).run(question)
    assert info.value.field == "question"
    assert scripted.requests == []


def test_duplicate_persona_and_bad_seed_are_refused(scripted):
    with pytest.raises(ConfigError, match="duplicate"):
        Debate([make_persona("alpha"), make_persona("alpha")], backend=scripted)
    with pytest.raises(ConfigError) as info:
        Debate(personas(), backend=scripted, seed=-1)
    assert info.value.field == "seed"


def test_rounds_override_is_validated(scripted):
    with pytest.raises(ConfigError) as info:
        Debate(personas(), "debate", rounds=0, backend=scripted)
    assert info.value.field == "rounds"
    assert Debate(personas(), "debate", rounds=3, backend=scripted).protocol.spec.rounds == 3


# -- concurrency and faults ----------------------------------------------------------------------------------------
async def test_phases_run_agents_concurrently():
    names = [f"agent{i}" for i in range(8)]
    backend = ScriptedBackend(make_reply(), delay_s=0.2)
    debate = Debate(personas(names), one_round(), backend=backend, seed=1)
    start = time.perf_counter()
    result = await debate.run(QUESTION)
    elapsed = time.perf_counter() - start
    phase_events = [e for e in result.transcript.events if isinstance(e, PhaseEvent)]
    assert [e.phase for e in phase_events] == ["propose", "critique", "revise", "vote"]
    for e in phase_events:
        assert len(e.answered) == 8
        # serially one phase would take 8 * 0.2 = 1.6 s
        assert 0.19 <= e.timing["duration_s"] < 1.0, e
    assert elapsed < 4 * 1.0
    assert len(backend.requests) == 8 * 4


async def test_slow_agent_times_out_and_the_debate_goes_on():
    async def reply(request):
        if request.agent == "bravo" and request.phase == "propose":
            await asyncio.sleep(5)
        return make_reply()(request)

    backend = ScriptedBackend(reply)
    start = time.perf_counter()
    result = await Debate(personas(), one_round(timeout_s=0.3), backend=backend).run(QUESTION)
    assert time.perf_counter() - start < 3
    t = result.transcript
    assert t.status == "completed"
    (slow,) = [m for m in t.phase_messages(1, "propose") if m.agent == "bravo"]
    assert not slow.ok and "timed out" in slow.error
    assert slow.text == "" and slow.answer == ""
    phase = next(e for e in t.events if isinstance(e, PhaseEvent) and e.phase == "propose")
    assert phase.failed == ["bravo"] and sorted(phase.answered) == ["alpha", "charlie", "delta"]
    # a failed message reaches no one's inbox
    assert all("r1.propose.bravo" not in m.seen for m in t.messages)
    assert t.outcome is not None


async def test_backend_error_for_one_agent_is_recorded(tmp_path):
    backend = ScriptedBackend(failing_reply({("charlie", "propose"): RuntimeError("model fell over")}))
    graph = ring_graph()
    result = await Debate(personas(), one_round(), graph=graph, backend=backend).run(
        QUESTION, out=tmp_path / "t.jsonl"
    )
    t = result.transcript
    assert t.status == "completed"
    (failed,) = [m for m in t.phase_messages(1, "propose") if m.agent == "charlie"]
    assert failed.error == "RuntimeError: model fell over"
    # delta listens only to charlie: its critique saw nothing but its own proposal
    (critique,) = [m for m in t.phase_messages(1, "critique") if m.agent == "delta"]
    assert critique.seen == ["r1.propose.delta"]
    delta_prompt = next(
        prompt_text(r) for r in backend.requests if r.agent == "delta" and r.phase == "critique"
    )
    assert "TOKEN-charlie-" not in delta_prompt
    assert Transcript.load(tmp_path / "t.jsonl").content() == t.content()


async def test_empty_reply_is_an_error():
    backend = ScriptedBackend(failing_reply({("alpha", "critique"): "   \n "}))
    result = await Debate(personas(), one_round(), backend=backend).run(QUESTION)
    (m,) = [m for m in result.transcript.phase_messages(1, "critique") if m.agent == "alpha"]
    assert m.error == "empty reply"
    assert result.transcript.status == "completed"


async def test_failed_ballot_is_recorded_and_not_counted():
    backend = ScriptedBackend(failing_reply({("delta", "vote"): ValueError("no vote")}))
    result = await Debate(personas(), one_round(), backend=backend).run(QUESTION)
    (ballot,) = [b for b in result.transcript.ballots if b.agent == "delta"]
    assert ballot.ranking == [] and ballot.parse == "error" and "no vote" in ballot.error
    assert result.outcome.voters == 3


async def test_abstaining_ballot_is_recorded():
    backend = ScriptedBackend(failing_reply({("delta", "vote"): "I would rather not say."}))
    result = await Debate(personas(), one_round(), backend=backend).run(QUESTION)
    (ballot,) = [b for b in result.transcript.ballots if b.agent == "delta"]
    # a reply with no readable ranking is a failed ballot that says why, not a silent abstention
    assert ballot.ranking == [] and ballot.parse == "abstain"
    assert ballot.error.startswith("unreadable ballot: no label among A, B, C, D")
    assert result.outcome.voters == 3
    assert "delta" not in result.outcome.dissenters


async def test_below_quorum_fails_and_marks_the_transcript(tmp_path):
    bad = {(n, "propose"): RuntimeError(f"{n} is down") for n in ("bravo", "charlie", "delta")}
    backend = ScriptedBackend(failing_reply(bad))
    out = tmp_path / "failed.jsonl"
    with pytest.raises(DebateError) as info:
        await Debate(personas(), one_round(), backend=backend).run(QUESTION, out=out)
    assert "quorum" in str(info.value) and "propose" in str(info.value)
    lines = out.read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["type"] == "end" and last["status"] == "failed"
    assert "quorum" in last["error"]
    loaded = Transcript.load(out)
    assert loaded.status == "failed"
    assert isinstance(loaded.events[-1], EndEvent)
    assert loaded.outcome is None
    # the phase that failed was still recorded in full
    assert len(loaded.phase_messages(1, "propose")) == 4
    assert not any(r.phase == "critique" for r in backend.requests)


async def test_unexpected_exception_is_wrapped_and_recorded(tmp_path):
    def progress(p):
        if p.stage == "phase-done":
            raise KeyError("progress display exploded")

    out = tmp_path / "broken.jsonl"
    debate = Debate(personas(), one_round(), backend=ScriptedBackend(make_reply()), progress=progress)
    with pytest.raises(DebateError, match="progress display exploded") as info:
        await debate.run(QUESTION, out=out)
    assert isinstance(info.value.__cause__, KeyError)
    loaded = Transcript.load(out)
    assert loaded.status == "failed" and "KeyError" in loaded.end.error


# -- determinism and transcripts -----------------------------------------------------------------------------------
async def test_same_seed_same_content(tmp_path):
    async def run(seed, out=None):
        backend = ScriptedBackend(make_reply())
        return await Debate(personas(), "debate", graph=ring_graph(), seed=seed, backend=backend).run(
            QUESTION, out=out
        )

    first = await run(7, tmp_path / "first.jsonl")
    second = await run(7)
    assert first.transcript.content() == second.transcript.content()
    assert first.transcript.header.config_hash == second.transcript.header.config_hash
    other = await run(8)
    assert other.transcript.header.config_hash != first.transcript.header.config_hash
    # the file holds exactly the in-memory transcript
    loaded = Transcript.load(tmp_path / "first.jsonl")
    assert loaded.content() == first.transcript.content()
    assert len(loaded) == len(first.transcript)


async def test_truncated_last_line_is_ignored_and_flagged(ring_run, tmp_path):
    _, _, _, out = ring_run
    raw = out.read_bytes()
    assert raw.endswith(b"\n")
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(raw[:-15])  # the writer died in the middle of the last line
    t = Transcript.load(cut)
    full = Transcript.load(out)
    assert t.truncated and not full.truncated
    assert len(t) == len(full) - 1
    assert t.content() == full.content()[:-1]
    assert t.end is None and t.status == "incomplete"


async def test_damaged_middle_line_is_an_error(ring_run, tmp_path):
    _, _, _, out = ring_run
    lines = out.read_text().splitlines(keepends=True)
    lines[2] = '{"type": "message", "id": 3}\n'
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines))
    with pytest.raises(TranscriptError) as info:
        Transcript.load(bad)
    assert "line 3" in str(info.value) and str(bad) in str(info.value)


def test_non_transcript_files_are_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(TranscriptError):
        Transcript.load(empty)
    with pytest.raises(TranscriptError, match="not found"):
        Transcript.load(tmp_path / "missing.jsonl")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\x01\n")
    with pytest.raises(TranscriptError):
        Transcript.load(binary)


async def test_save_round_trips(ring_run, tmp_path):
    result, _, _, _ = ring_run
    path = result.transcript.save(tmp_path / "saved.jsonl")
    assert Transcript.load(path).content() == result.transcript.content()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# -- untrusted text stays text -------------------------------------------------------------------------------------
async def test_jinja_in_persona_description_is_inert():
    description = "{{ 7*7 }} {% for x in range(3) %}loop{% endfor %} {{ persona.name }}"
    people = [make_persona("alpha", description=description), make_persona("bravo")]
    backend = ScriptedBackend(make_reply())
    await Debate(people, one_round(), backend=backend).run(QUESTION)
    systems = [r.messages[0].content for r in backend.requests if r.agent == "alpha"]
    assert systems
    for system in systems:
        assert description in system
        assert "49" not in system
        assert "looploop" not in system


async def test_jinja_in_question_and_replies_is_inert():
    question = "Is {{ 6*7 }} the answer? {% if true %}yes{% endif %}"
    reply_text = "Answer: {{ 8*8 }} {% raw %}x{% endraw %}. Because."
    backend = ScriptedBackend(failing_reply({("alpha", "propose"): reply_text}))
    result = await Debate(personas(), one_round(), backend=backend).run(question)
    assert result.transcript.header.question == question
    for request in backend.requests:
        text = prompt_text(request)
        assert question in text and "42" not in text
    bravo_critique = next(
        prompt_text(r) for r in backend.requests if r.agent == "bravo" and r.phase == "critique"
    )
    assert "{{ 8*8 }}" in bravo_critique and "64" not in bravo_critique


async def test_progress_notices():
    seen: list[agora.run.engine.Progress] = []
    backend = ScriptedBackend(make_reply())
    await Debate(personas(), one_round(), backend=backend, progress=seen.append).run(QUESTION)
    stages = [p.stage for p in seen]
    assert stages[0] == "loading" and stages[-1] == "outcome"
    assert stages.count("phase") == 4 and stages.count("phase-done") == 4
    assert stages.count("turn") == 4 * 4


def test_message_event_ok_property():
    m = MessageEvent(
        id="r1.p.a",
        round=1,
        phase="p",
        kind="propose",
        agent="a",
        model="m",
        recipients=[],
        prompt_hash="x",
        error="boom",
    )
    assert not m.ok
