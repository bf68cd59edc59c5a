"""Crash-safe transcripts and resuming, on a scripted backend: any cut of a transcript file loads, and resuming it
gives the same messages and outcome as the uninterrupted run, without re-running a complete phase."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from conftest import PERSONAS, make_reply

import agora
from agora import ConfigError, Debate, DebateError, ScriptedBackend, Transcript, TranscriptError
from agora.cli import main
from agora.run.checkpoint import find_checkpoint, quorum_needed, schedule
from agora.transcript import EndEvent, PhaseEvent

NAMES = ["alpha", "bravo", "charlie", "delta"]
QUESTION = "Should the café on the square close at noon? Ça dépend."  # non-ASCII: cuts can split a character


def write_cards(directory: Path, names=NAMES) -> Path:
    """Persona cards on disk (model 'scripted'), as a contributor would write them."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        card = {
            "name": name,
            "model": "scripted",
            "values": {"fairness": 0.6, "public_health": 0.4},
            "description": f"You are {name}, who likes the café crème.",
        }
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    return directory


def reply(request: agora.GenerationRequest) -> str:
    """make_reply()'s deterministic replies, with non-ASCII text in every message."""
    text = make_reply()(request)
    return text if request.phase == "vote" else f"{text} Ça dépend du café."


def backend(**kwargs) -> ScriptedBackend:
    return ScriptedBackend(reply, **kwargs)


async def run_full(cards: Path, out: Path, protocol="debate", **kwargs) -> agora.DebateResult:
    debate = Debate(agora.load_personas(cards), protocol, seed=11, backend=backend(), **kwargs)
    return await debate.run(QUESTION, out=out)


@pytest.fixture
def cards(tmp_path) -> Path:
    return write_cards(tmp_path / "cards")


@pytest.fixture
async def full(cards, tmp_path):
    out = tmp_path / "full.jsonl"
    result = await run_full(cards, out)
    assert result.transcript.status == "completed"
    return result, out


def phase_line_ends(raw: bytes) -> list[int]:
    """Byte offsets just after each phase event's line."""
    ends, offset = [], 0
    for line in raw.split(b"\n")[:-1]:
        offset += len(line) + 1
        if json.loads(line)["type"] == "phase":
            ends.append(offset)
    return ends


def asked(backend: ScriptedBackend) -> list[str]:
    return sorted({r.phase for r in backend.requests})


# -- the checkpoint ------------------------------------------------------------------------------------------------
def test_quorum_needed_is_exact():
    assert quorum_needed(0.5, 4) == 2
    assert quorum_needed(0.3, 10) == 3  # not 4: 0.3 * 10 is 3.0000000000000004 in floating point
    assert quorum_needed(1.0, 3) == 3
    assert quorum_needed(0.01, 3) == 1


async def test_checkpoint_after_every_phase(full, tmp_path):
    result, out = full
    raw = out.read_bytes()
    spec = result.transcript.header.protocol_spec
    plan = [(r, p.name) for r, p in schedule(agora.ProtocolSpec.model_validate(spec))]
    assert plan == [
        (1, "propose"),
        (1, "critique"),
        (1, "revise"),
        (2, "critique"),
        (2, "revise"),
        (2, "vote"),
    ]
    ends = phase_line_ends(raw)
    for k, end in enumerate(ends):
        cut = tmp_path / f"cut{k}.jsonl"
        cut.write_bytes(raw[:end])
        t = Transcript.load(cut)
        cp = find_checkpoint(t, agora.ProtocolSpec.model_validate(spec))
        # the vote phase counts only once its outcome is written
        assert list(cp.done) == plan[: k + 1 if plan[k][1] != "vote" else k]
        assert cp.status == "incomplete" and not cp.truncated


async def test_steps_after_the_rounds_are_rerun_whole(full):
    """A step the spec does not list (a mediator's, after the rounds) is not a checkpoint: it runs again."""
    result, _ = full
    events = result.transcript.events[:-1]  # all phases and the outcome, no end line
    extra = PhaseEvent(round=2, phase="draft", kind="propose", answered=["mediator"], failed=[])
    cut = Transcript([*events, extra])
    spec = agora.ProtocolSpec.model_validate(result.transcript.header.protocol_spec)
    checkpoint = find_checkpoint(cut, spec)
    assert len(checkpoint.done) == len(schedule(spec)) and checkpoint.discarded == 1


async def test_completed_transcript_is_refused_and_left_alone(full):
    _, out = full
    before = out.read_bytes()
    with pytest.raises(TranscriptError, match="already completed"):
        await agora.resume(out, backend=backend())
    assert out.read_bytes() == before


# -- resuming gives the uninterrupted run --------------------------------------------------------------------------
async def test_every_cut_resumes_to_the_uninterrupted_run(full, tmp_path):
    """Cut the file after each phase, inside the next phase's turns, and inside a line (even inside a character):
    the resumed transcript has the same content, and only phases that were not complete are asked again."""
    result, out = full
    raw = out.read_bytes()
    lines = raw.split(b"\n")[:-1]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    cuts = set(offsets[1:-1])  # after every complete line but the last (end) one
    cuts |= {(a + b) // 2 for a, b in zip(offsets[1:-1], offsets[2:], strict=False)}  # mid-line
    non_ascii = raw.index("é".encode())
    cuts.add(non_ascii + 1)  # inside the two bytes of "é" in the header
    second_header_char = raw.index("é".encode(), offsets[1])
    cuts.add(second_header_char + 1)  # inside a character in an event after the header
    full_content = result.transcript.content()
    checked = 0
    for cut in sorted(cuts):
        if cut < offsets[1]:
            continue  # the header itself is cut: nothing to resume (tested below)
        path = tmp_path / f"cut{cut}.jsonl"
        path.write_bytes(raw[:cut])
        loaded = Transcript.load(path)
        assert loaded.truncated == (cut not in offsets)
        spec = agora.ProtocolSpec.model_validate(loaded.header.protocol_spec)
        checkpoint = find_checkpoint(loaded, spec)
        again = backend()
        resumed = await agora.resume(path, backend=again)
        assert resumed.transcript.content() == full_content, cut
        assert Transcript.load(path).content() == full_content
        # complete phases are not asked again: one request per agent for each phase still to run
        assert len(again.requests) == len(NAMES) * (len(schedule(spec)) - len(checkpoint.done)), cut
        checked += 1
    assert checked > 20


async def test_cut_inside_the_header_is_not_a_transcript(full, tmp_path):
    _, out = full
    raw = out.read_bytes()
    path = tmp_path / "header-cut.jsonl"
    path.write_bytes(raw[: raw.index(b"\n") - 5])
    with pytest.raises(TranscriptError, match="not an agora transcript"):
        await agora.resume(path, backend=backend())


async def test_resume_records_itself_in_the_header_timing_only(full, tmp_path):
    result, out = full
    raw = out.read_bytes()
    path = tmp_path / "cut.jsonl"
    path.write_bytes(raw[: phase_line_ends(raw)[2] + 40])  # after revise of round 1, then 40 bytes more
    resumed = await agora.resume(path, backend=backend())
    header = Transcript.load(path).header
    (note,) = header.timing["resumes"]
    assert note["after"] == [1, "revise"]
    assert note["previous_status"] == "incomplete" and note["cut_off_line"] is True
    assert note["discarded_events"] == 0 and note["kept_events"] == 1 + 3 * (len(NAMES) + 1)
    assert note["versions"]["agora"] == agora.__version__
    assert resumed.transcript.content() == result.transcript.content()
    assert not list(tmp_path.glob(".*.tmp"))


async def test_failed_debate_resumes_and_reruns_the_failed_phase(cards, tmp_path):
    """A transient fault (three agents down in round 1's critique) fails the debate below quorum; once the agents
    are back, resuming re-runs that phase and ends as if nothing had happened."""
    down = {"bravo", "charlie", "delta"}
    base = reply

    def flaky(request):
        if request.agent in down and request.phase == "critique":
            return ConnectionError(f"{request.agent}'s server is unreachable")
        return base(request)

    out = tmp_path / "failed.jsonl"
    debate = Debate(agora.load_personas(cards), "debate", seed=11, backend=ScriptedBackend(flaky))
    with pytest.raises(DebateError, match="round 1, phase 'critique'") as info:
        await debate.run(QUESTION, out=out)
    assert "bravo (ConnectionError: bravo's server is unreachable)" in str(info.value)
    failed = Transcript.load(out)
    assert failed.status == "failed"
    again = backend()
    resumed = await agora.resume(out, backend=again)
    assert asked(again) == ["critique", "revise", "vote"]
    assert len([r for r in again.requests if r.phase == "critique"]) == 2 * len(NAMES)
    reference = await run_full(cards, tmp_path / "reference.jsonl")
    assert resumed.transcript.content() == reference.transcript.content()
    loaded = Transcript.load(out)
    assert loaded.status == "completed"
    assert sum(isinstance(e, EndEvent) for e in loaded.events) == 1
    (note,) = loaded.header.timing["resumes"]
    assert note["previous_status"] == "failed" and "quorum" in note["previous_error"]
    assert note["after"] == [1, "propose"] and note["discarded_events"] == len(NAMES) + 2
    # `agora show` reads the failed transcript (kept aside) and the resumed one
    failed_copy = tmp_path / "failed-copy.jsonl"
    failed.save(failed_copy)
    for path, expected in ((failed_copy, "quorum"), (out, resumed.outcome.answer)):
        shown = await asyncio.to_thread(show_text, path)
        assert expected in shown


def show_text(path: Path) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["show", str(path)]) == 0
    return buffer.getvalue()


async def test_resume_twice_and_to_another_file(full, tmp_path):
    result, out = full
    raw = out.read_bytes()
    first = tmp_path / "first.jsonl"
    first.write_bytes(raw[: phase_line_ends(raw)[0] + 10])
    second = tmp_path / "new" / "dir" / "second.jsonl"
    resumed = await agora.resume(first, out=second, backend=backend())
    assert first.read_bytes() == raw[: phase_line_ends(raw)[0] + 10]  # the original is left as it was
    assert resumed.path == second and resumed.transcript.content() == result.transcript.content()
    # kill the resumed one again, then resume it again: two notes
    raw2 = second.read_bytes()
    second.write_bytes(raw2[: phase_line_ends(raw2)[3] + 7])
    again = await agora.resume(second, backend=backend())
    assert again.transcript.content() == result.transcript.content()
    assert len(Transcript.load(second).header.timing["resumes"]) == 2


async def test_rounds_override_and_protocol_file_are_reloaded(cards, protocol_copy, tmp_path):
    out = tmp_path / "three.jsonl"
    result = await run_full(cards, out, protocol=protocol_copy, rounds=3)
    header = result.transcript.header
    assert header.sources["overrides"] == {"rounds": 3}
    assert header.sources["protocol"] == str(protocol_copy.resolve())
    raw = out.read_bytes()
    out.write_bytes(raw[: phase_line_ends(raw)[4] + 3])
    resumed = await agora.resume(out, backend=backend())
    assert resumed.transcript.content() == result.transcript.content()


# -- refusing what changed -----------------------------------------------------------------------------------------
async def cut_run(cards, tmp_path, protocol="debate") -> tuple[Path, bytes]:
    out = tmp_path / "cut.jsonl"
    await run_full(cards, out, protocol=protocol)
    raw = out.read_bytes()
    out.write_bytes(raw[: phase_line_ends(raw)[1]])
    return out, out.read_bytes()


async def test_changed_card_is_refused_naming_file_and_field(cards, tmp_path):
    out, before = await cut_run(cards, tmp_path)
    card = cards / "charlie.yaml"
    data = yaml.safe_load(card.read_text())
    data["values"]["fairness"] = 0.9
    card.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        await agora.resume(out, backend=backend())
    message = str(info.value)
    assert str(card.resolve()) in message and "field 'values'" in message and "config hash" in message
    assert out.read_bytes() == before


async def test_missing_card_is_refused(cards, tmp_path):
    out, before = await cut_run(cards, tmp_path)
    (cards / "delta.yaml").unlink()
    with pytest.raises(ConfigError, match="card of persona 'delta' is no longer at"):
        await agora.resume(out, backend=backend())
    assert out.read_bytes() == before


async def test_changed_template_or_spec_is_refused(cards, protocol_copy, tmp_path):
    out, before = await cut_run(cards, tmp_path, protocol=protocol_copy)
    template = protocol_copy.parent / "debate" / "revise.j2"
    original = template.read_text()
    template.write_text(original + "\nBe brief.")
    with pytest.raises(ConfigError, match="template changed") as info:
        await agora.resume(out, backend=backend())
    assert "revise.j2" in str(info.value)
    template.write_text(original)
    spec = protocol_copy.read_text()
    protocol_copy.write_text(spec.replace("quorum: 0.5", "quorum: 0.75"))
    with pytest.raises(ConfigError, match="protocol spec changed") as info:
        await agora.resume(out, backend=backend())
    assert "field 'quorum'" in str(info.value)
    assert out.read_bytes() == before
    protocol_copy.write_text(spec)
    resumed = await agora.resume(out, backend=backend())
    assert resumed.transcript.status == "completed"


async def test_personas_built_in_python_are_rebuilt_from_the_header(tmp_path):
    from conftest import make_persona

    people = [make_persona(n, description=f"{n} — Jinja {{{{ 7 * 7 }}}} stays text") for n in NAMES[:3]]
    out = tmp_path / "python.jsonl"
    full = await Debate(people, "debate", seed=2, backend=backend()).run(QUESTION, out=out)
    assert full.transcript.header.sources["personas"] == {n: None for n in NAMES[:3]}
    raw = out.read_bytes()
    out.write_bytes(raw[: phase_line_ends(raw)[2] - 1])  # the revise phase line loses its newline
    resumed = await agora.resume(out, backend=backend())
    assert resumed.transcript.content() == full.transcript.content()


async def test_protocol_built_in_python_is_rebuilt_from_the_header(cards, tmp_path):
    shipped = agora.load_protocol("debate")
    protocol = agora.Protocol(shipped.spec.model_copy(update={"rounds": 1}), shipped.directory)
    out = tmp_path / "inline.jsonl"
    full = await Debate(agora.load_personas(cards), protocol, seed=3, backend=backend()).run(
        QUESTION, out=out
    )
    assert full.transcript.header.sources["protocol"] is None
    raw = out.read_bytes()
    out.write_bytes(raw[: phase_line_ends(raw)[1] + 11])
    resumed = await agora.resume(out, backend=backend())
    assert resumed.transcript.content() == full.transcript.content()


class Identified(ScriptedBackend):
    """A scripted backend that reports a model file hash, as the local backend does."""

    def __init__(self, sha256: str):
        super().__init__(reply)
        self.sha256 = sha256

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "sha256": self.sha256}


async def test_another_model_file_is_refused(cards, tmp_path):
    out = tmp_path / "model.jsonl"
    debate = Debate(agora.load_personas(cards), "debate", seed=11, backend=Identified("a" * 64))
    full = await debate.run(QUESTION, out=out)
    raw = out.read_bytes()
    out.write_bytes(raw[: phase_line_ends(raw)[0]])
    before = out.read_bytes()
    with pytest.raises(ConfigError, match="not the one the debate started with") as info:
        await agora.resume(out, backend=Identified("b" * 64))
    assert "aaaaaaaaaaaa" in str(info.value) and "field 'model'" in str(info.value)
    assert out.read_bytes() == before
    resumed = await agora.resume(out, backend=Identified("a" * 64))
    assert resumed.transcript.content() == full.transcript.content()


async def test_transcript_without_sources_is_refused(full, tmp_path):
    _, out = full
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    header = json.loads(lines[0])
    header.pop("sources")
    header.pop("templates")
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps(header) + "\n" + "".join(lines[1:6]), encoding="utf-8")
    assert Transcript.load(old).header.sources == {}  # older files still load
    with pytest.raises(TranscriptError, match="older agora"):
        await agora.resume(old, backend=backend())


async def test_phase_order_that_does_not_follow_the_protocol_is_refused(full, tmp_path):
    _, out = full
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    phase_lines = [i for i, line in enumerate(lines) if json.loads(line)["type"] == "phase"]
    swapped = lines[: phase_lines[1] + 1]
    swapped[phase_lines[1]] = swapped[phase_lines[1]].replace('"critique"', '"revise"')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(swapped), encoding="utf-8")
    with pytest.raises(TranscriptError, match="not the next phase"):
        await agora.resume(bad, backend=backend())


# -- the command line ----------------------------------------------------------------------------------------------
async def test_cli_resume_refuses_clearly_and_writes_nothing(full, tmp_path, capsys):
    _, out = full
    before = out.read_bytes()
    assert await asyncio.to_thread(main, ["resume", str(out)]) == 2
    assert "already completed" in capsys.readouterr().err
    assert out.read_bytes() == before
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(before[: phase_line_ends(before)[0]])
    new = tmp_path / "new.jsonl"
    # the cards name the 'scripted' model, which only Python can supply: refused before anything is written
    assert await asyncio.to_thread(main, ["resume", str(cut), "--out", str(new)]) == 2
    err = capsys.readouterr().err
    assert "scripted" in err and err.count("\n") <= 2
    assert not new.exists() and cut.read_bytes() == before[: phase_line_ends(before)[0]]
    assert await asyncio.to_thread(main, ["resume", str(tmp_path / "missing.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err


def test_shipped_cards_record_their_files(tmp_path):
    """A debate over the shipped cards records where each card is, so `agora resume` can reload them."""
    chosen = [p for p in agora.load_personas() if p.name in ("verdant", "enterprise")]
    debate = Debate(chosen, "debate", rounds=1, backends={chosen[0].model: backend()})
    result = debate.run_sync("Is a short question fine?")
    sources = result.transcript.header.sources["personas"]
    assert sorted(sources) == ["enterprise", "verdant"]
    for persona in chosen:
        card = Path(sources[persona.name])
        assert card.is_absolute() and card.name == f"{persona.name}.yaml"
        assert agora.load_persona(card) == persona
    assert (PERSONAS / "verdant.yaml").exists()


async def test_a_run_with_an_answer_reader_resumes_with_the_same_reader(cards, tmp_path):
    def read(text: str) -> str:  # a canonical answer: some replies share one, and only identical ones merge
        return "long" if len(text) > 60 else "short"

    out = tmp_path / "read.jsonl"
    debate = Debate(agora.load_personas(cards), "debate", seed=11, backend=backend())
    full = await debate.run(QUESTION, out=out, read_answer=read)
    assert {m.answer for m in full.transcript.messages if m.kind == "propose"} <= {"long", "short"}
    raw = out.read_bytes()
    cut = phase_line_ends(raw)[1]  # after the second phase
    path = tmp_path / "cut.jsonl"
    path.write_bytes(raw[:cut])
    resumed = await agora.resume(path, backend=backend(), read_answer=read)
    assert resumed.transcript.content() == full.transcript.content()


# -- early stops and missing lines -------------------------------------------------------------------------------
def agreeing(request: agora.GenerationRequest) -> str:
    """Every agent gives the same answer, so a unanimity rule stops the debate after round 1."""
    if request.phase == "vote":
        return "Ranking: A"
    return "Answer: Yes, close it at noon. Ça dépend du café."


async def test_a_debate_that_stopped_early_resumes_from_every_cut_to_the_same_transcript(cards, tmp_path):
    protocol = agora.load_protocol("debate").with_overrides(rounds=3, stop={"consensus": "unanimous"})
    out = tmp_path / "early.jsonl"
    debate = Debate(agora.load_personas(cards), protocol, seed=11, backend=ScriptedBackend(agreeing))
    result = await debate.run(QUESTION, out=out)
    stops = [e for e in result.transcript.events if e.type == "stop"]
    assert [(s.round, s.reason) for s in stops] == [(1, "unanimous")]
    raw = out.read_bytes()
    ends = [i + 1 for i, byte in enumerate(raw) if byte == ord("\n")]
    for cut in ends[:-1]:  # after every line but the last (the end line)
        path = tmp_path / f"early{cut}.jsonl"
        path.write_bytes(raw[:cut])
        resumed = await agora.resume(path, backend=ScriptedBackend(agreeing))
        assert resumed.transcript.content() == result.transcript.content(), cut
        assert [e.type for e in Transcript.load(path).events].count("stop") == 1


async def test_a_transcript_with_a_message_line_removed_is_refused_naming_the_gap(full, tmp_path):
    _, out = full
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    victim = next(
        i for i, line in enumerate(lines) if '"phase":"critique"' in line and '"agent":"bravo"' in line
    )
    cut_end = next(i for i, line in enumerate(lines) if i > victim and '"type":"phase"' in line) + 3
    path = tmp_path / "gap.jsonl"
    path.write_text("".join(lines[:victim] + lines[victim + 1 : cut_end]), encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(agora.TranscriptError) as refused:
        await agora.resume(path, backend=backend())
    message = str(refused.value)
    assert str(path) in message and "round 1, phase 'critique'" in message and "bravo" in message
    assert "missing" in message and "\n" not in message
    assert path.read_bytes() == before
