"""What a hostile contributor's files or an unlucky input cannot do: reach outside the protocol directory through a
link, hang agora on a special file, make a prompt exhaust memory or time, build a graph of a hundred million edges,
fail a vote after every phase has run, or drive the terminal with escape codes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import make_persona, make_reply

import agora
from agora import ConfigError, Debate, ScriptedBackend, Transcript, load_persona, load_protocol
from agora.cli import main
from agora.graph import MAX_EDGES, GraphSpec, build_graph
from agora.protocol.templates import MAX_RENDER_CHARS

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")


# -- templates stay inside the protocol directory -----------------------------------------------------------------
def test_a_template_linked_to_a_file_outside_the_protocol_is_refused(protocol_copy, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("API_KEY=hunter2")
    propose = protocol_copy.parent / "debate" / "propose.j2"
    propose.unlink()
    propose.symlink_to(secret)
    with pytest.raises(ConfigError) as refused:
        load_protocol(protocol_copy)
    message = str(refused.value)
    assert "outside the protocol directory" in message and "phases.0.template" in message
    assert "hunter2" not in message


def test_an_include_through_a_linked_folder_is_refused(protocol_copy, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "note.j2").write_text("{{ question }}")
    (protocol_copy.parent / "debate" / "linked").symlink_to(outside, target_is_directory=True)
    propose = protocol_copy.parent / "debate" / "propose.j2"
    propose.write_text(propose.read_text() + '\n{% include "debate/linked/note.j2" %}')
    with pytest.raises(ConfigError, match="not a template file beside the protocol"):
        load_protocol(protocol_copy)


# -- special and oversized files are refused before they are read -------------------------------------------------
@posix_only
def test_a_fifo_template_is_refused_at_once(protocol_copy):
    propose = protocol_copy.parent / "debate" / "propose.j2"
    propose.unlink()
    os.mkfifo(propose)
    start = time.monotonic()
    with pytest.raises(ConfigError, match="not a regular file"):
        load_protocol(protocol_copy)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "huge"])
def test_a_card_that_is_a_device_a_fifo_or_huge_is_refused_before_it_is_read(tmp_path, kind):
    if kind == "dev-zero":
        if not Path("/dev/zero").exists():
            pytest.skip("no /dev/zero")
        path = Path("/dev/zero")
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("FIFOs are POSIX")
        path = tmp_path / "card.yaml"
        os.mkfifo(path)
    else:
        path = tmp_path / "card.yaml"
        with path.open("wb") as fh:  # a sparse gigabyte: nothing is written, but its size says 1 GB
            fh.truncate(1 << 30)
    start = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        load_persona(path)
    assert time.monotonic() - start < 5
    assert str(path) in str(refused.value)
    assert ("larger than" if kind == "huge" else "not a regular file") in str(refused.value)


@posix_only
def test_a_transcript_that_is_a_fifo_is_refused(tmp_path, capsys):
    path = tmp_path / "t.jsonl"
    os.mkfifo(path)
    assert main(["show", str(path)]) == 2
    assert "not a regular file" in capsys.readouterr().err


# -- rendering is bounded in size and time, at run time too -------------------------------------------------------
def bomb_protocol(protocol_copy: Path, body: str) -> agora.Protocol:
    """The copied debate with a proposal template that is harmless on the short sample question and not on a long
    one: it passes the trial render when the protocol loads."""
    (protocol_copy.parent / "debate" / "propose.j2").write_text(body)
    return load_protocol(protocol_copy).with_overrides(rounds=1)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            "{% for a in question %}{% for b in question %}{{ question }}{% endfor %}{% endfor %}",
            "characters",
        ),
        (
            "{% for a in question %}{% for b in question %}{% for c in question %}{% endfor %}{% endfor %}"
            "{% endfor %}Say yes.",
            "longer than",
        ),
    ],
)
def test_a_prompt_that_would_exhaust_memory_or_time_fails_the_debate_quickly(protocol_copy, body, why):
    protocol = bomb_protocol(protocol_copy, body)
    debate = Debate([make_persona(n) for n in ("ann", "bo")], protocol, backend=ScriptedBackend(make_reply()))
    start = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        debate.run_sync("Why? " * 600)  # 3,000 characters
    assert time.monotonic() - start < 20
    assert "propose.j2" in str(refused.value) and why in str(refused.value)
    assert MAX_RENDER_CHARS < 10**6


# -- sizes are checked before the first phase ---------------------------------------------------------------------
def test_a_complete_graph_too_large_is_refused_before_it_is_built():
    names = [f"a{i}" for i in range(10_000)]
    start = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        build_graph(GraphSpec(kind="complete"), names)
    assert time.monotonic() - start < 2
    assert f"more than the {MAX_EDGES} allowed" in str(refused.value) and refused.value.field == "graph"


def test_too_many_agents_are_refused():
    with pytest.raises(ConfigError, match="at most 5000 agents"):
        Debate([make_persona(f"a{i}") for i in range(5001)], backend=ScriptedBackend(make_reply()))


def distinct(n: int):
    return [make_persona(f"a{i:02d}") for i in range(n)]


def unmerged(ballot: str) -> agora.Protocol:
    protocol = load_protocol("debate")
    phases = [
        dict(p.model_dump(), ballot=ballot) if p.kind == "vote" else p.model_dump()
        for p in protocol.spec.phases
    ]
    aggregation = dict(protocol.spec.aggregation.model_dump(), merge=False)
    return protocol.with_overrides(rounds=1, phases=phases, aggregation=aggregation)


def test_a_written_vote_over_more_answers_than_letters_is_refused_before_the_first_phase():
    backend = ScriptedBackend(make_reply())
    with pytest.raises(ConfigError, match="at most 26 answers by letter; got 30 agents"):
        Debate(distinct(30), unmerged("generated"), backend=backend)
    assert backend.requests == []


def test_ballots_that_name_no_letters_have_no_letter_limit():
    backend = ScriptedBackend(make_reply(), scorer=lambda r: [-1.0 - i for i in range(len(r.continuations))])
    result = Debate(distinct(30), unmerged("scored"), backend=backend, seed=2).run_sync("Q?")
    outcome = result.outcome
    assert outcome.winner is not None and outcome.voters == 30 and len(outcome.candidates) == 30
    assert {"Z", "AA", "AD"} <= set(result.transcript.ballots[0].labels)


def test_a_written_vote_that_meets_more_answers_than_letters_names_no_winner_and_completes():
    protocol = load_protocol("debate").with_overrides(rounds=1)  # answers merge: the count is known only then
    result = Debate(distinct(30), protocol, backend=ScriptedBackend(make_reply()), seed=2).run_sync("Q?")
    t = result.transcript
    assert t.status == "completed" and t.ballots == []
    assert t.outcome.winner is None and "more than the 26 letters" in t.outcome.no_winner


# -- the terminal shows text, it does not obey it -----------------------------------------------------------------
ESCAPE = "\x1b]0;pwned\x07\x1b[2J\u202e"


def test_escape_codes_from_models_and_cards_are_shown_as_escapes(tmp_path, capsys):
    card = tmp_path / "cards" / "eve.yaml"
    card.parent.mkdir()
    yaml_escape = "\\e]0;pwned\\a\\e[2J\\u202e"  # the same characters, written as YAML escapes
    card.write_text(
        f'name: eve\nmodel: scripted\nvalues: {{fairness: 1}}\ndescription: "Eve {yaml_escape}"\n'
        f'contributor: {{name: "Eve {yaml_escape}"}}\n'
    )
    assert load_persona(card).contributor.name == f"Eve {ESCAPE}"
    assert main(["personas", str(card.parent)]) == 0
    listed = capsys.readouterr().out
    assert "\x1b" not in listed and "\u202e" not in listed and "\\x1b]0;pwned" in listed

    def reply(request):
        return "Ranking: A, B" if request.phase == "vote" else f"Answer: yes {ESCAPE}. Because."

    out = tmp_path / "t.jsonl"
    Debate([make_persona(n) for n in ("ann", "bo")], "debate", backend=ScriptedBackend(reply)).run_sync(
        "Q?", out=out
    )
    assert "\x1b" in out.read_text(encoding="utf-8") or "\\u001b" in out.read_text(encoding="utf-8")
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "\\x1b[2J" in shown and "\\u202e" in shown
    assert (
        Transcript.load(out).messages[0].text.endswith("Because.")
    )  # the transcript keeps the text as written


# -- ballot files -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ballot", "field", "why"),
    [
        ({"voter": "a", "approved": []}, "ballots.0", "'approved' is empty"),
        ({"voter": "a", "ranking": [[], "A"]}, "ballots.0", "tier 1 of the ranking is empty"),
        ({"voter": "a", "approved": ["A", "A", "B"]}, "ballots.0", "'approved' names a candidate twice"),
        ({"voter": "a", "ranking": ["A", "B"], "weight": 1e308}, "ballots.0.weight", "less than or equal to"),
    ],
)
def test_ballot_files_that_would_crash_or_skew_the_count_are_refused_in_one_line(
    tmp_path, capsys, ballot, field, why
):
    path = tmp_path / "ballots.json"
    path.write_text(json.dumps({"ballots": [ballot, {"voter": "b", "ranking": ["B", "A"]}]}))
    assert main(["aggregate", str(path), "--rule", "all"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and f"field '{field}'" in err and why in err
