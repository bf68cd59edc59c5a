"""The command line, in-process: listings work; every user mistake is one line on stderr, exit 2, no files.

Nothing here loads a real model: every bad input is refused before a backend is built.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import PROTOCOLS, make_persona, make_reply

from agora import Debate, ScriptedBackend, load_protocol
from agora.cli import main

QUESTION = "Should the town square be closed to cars?"


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run_error(capsys, tmp_path: Path, argv: list[str]) -> str:
    """Run ``agora ARGV``; check exit status 2, one 'agora: error:' line, no new files, no torch; return the line."""
    capsys.readouterr()
    before = tree(tmp_path)
    torch_before = "torch" in sys.modules
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (argv, captured.err)
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("agora: error: ")
    assert captured.out == ""
    assert tree(tmp_path) == before, "a failed command left files behind"
    if not torch_before:
        assert "torch" not in sys.modules, "a refused command imported torch"
    return lines[0]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def write_card(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


GOOD_CARD = """\
name: tester
model: no-such-model
values: {fairness: 1}
description: You test things.
"""


# -- listings ------------------------------------------------------------------------------------------------------
def test_personas_lists_every_shipped_card(capsys, shipped_personas):
    assert main(["personas"]) == 0
    out = capsys.readouterr().out
    listed = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert listed == [p.name for p in shipped_personas]
    for p in shipped_personas:
        assert p.source in out
    assert "values:" in out and "contributor:" in out


def test_personas_from_a_given_directory(capsys, tmp_path):
    cards = tmp_path / "cards"
    cards.mkdir()
    write_card(cards / "t.yaml", GOOD_CARD)
    assert main(["personas", str(cards)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "tester"
    assert "fairness 100%" in out and "not stated" in out


def test_rules(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert {"borda", "plurality"} <= set(names)


def test_protocols(capsys):
    assert main(["protocols"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("debate")
    assert "rounds" in out and "propose" in out and "vote" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert "agora" in capsys.readouterr().out


def test_show_renders_a_scripted_transcript(capsys, tmp_path):
    out = tmp_path / "t.jsonl"
    people = [make_persona(n) for n in ("alpha", "bravo", "charlie")]
    result = Debate(
        people,
        load_protocol("debate").with_overrides(rounds=1),
        seed=2,
        backend=ScriptedBackend(make_reply()),
    ).run_sync(QUESTION, out=out)
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "protocol debate" in shown and "completed" in shown
    assert "round 1 · critique" in shown
    assert f"Winner: {result.winner}" in shown


def test_show_marks_a_cut_off_transcript(capsys, tmp_path):
    out = tmp_path / "t.jsonl"
    people = [make_persona(n) for n in ("alpha", "bravo")]
    Debate(
        people, load_protocol("debate").with_overrides(rounds=1), backend=ScriptedBackend(make_reply())
    ).run_sync(QUESTION, out=out)
    out.write_bytes(out.read_bytes()[:-10])
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "cut off" in shown and "did not finish" in shown


# -- user mistakes: exit 2, one line, nothing written --------------------------------------------------------------
def test_malformed_card(capsys, tmp_path):
    card = write_card(tmp_path / "bad.yaml", "name: t\nvalues: {fairness: 1\ndescription: x\n")
    line = run_error(capsys, tmp_path, ["run", "--question", QUESTION, "--personas", str(card)])
    assert str(card) in line and "YAML" in line and "line" in line
    line = run_error(capsys, tmp_path, ["personas", str(card)])
    assert str(card) in line


def test_unknown_field_in_card(capsys, tmp_path):
    card = write_card(tmp_path / "extra.yaml", GOOD_CARD + "favourite_colour: red\n")
    line = run_error(capsys, tmp_path, ["run", "--question", QUESTION, "--personas", str(card)])
    assert str(card) in line and "favourite_colour" in line and "unknown field" in line


def test_unknown_model(capsys, tmp_path):
    card = write_card(tmp_path / "model.yaml", GOOD_CARD)
    line = run_error(capsys, tmp_path, ["run", "--question", QUESTION, "--personas", str(card)])
    assert "no-such-model" in line and str(card) in line and "field 'model'" in line


def test_scripted_model_from_the_cli(capsys, tmp_path):
    card = write_card(tmp_path / "scripted.yaml", GOOD_CARD.replace("no-such-model", "scripted"))
    line = run_error(capsys, tmp_path, ["run", "--question", QUESTION, "--personas", str(card)])
    assert "scripted" in line and str(card) in line


@pytest.mark.parametrize("question", ["  ", ""])
def test_empty_question(capsys, tmp_path, question):
    line = run_error(capsys, tmp_path, ["run", "--question", question])
    assert "question" in line and "empty" in line


def test_graph_edge_naming_unknown_agent(capsys, tmp_path):
    proto = tmp_path / "proto"
    proto.mkdir()
    shutil.copytree(PROTOCOLS / "debate", proto / "debate")
    spec = yaml.safe_load((PROTOCOLS / "debate.yaml").read_text())
    spec["graph"] = {"kind": "edges", "edges": [["verdant", "enterprise"], ["enterprise", "ghost"]]}
    spec_path = proto / "edges.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    line = run_error(
        capsys, tmp_path, ["run", str(spec_path), "--question", QUESTION, "--only", "verdant,enterprise"]
    )
    assert "ghost" in line and "graph.edges[1]" in line and str(spec_path) in line


def test_rounds_zero(capsys, tmp_path):
    line = run_error(
        capsys, tmp_path, ["run", "--question", QUESTION, "--rounds", "0", "--only", "verdant,enterprise"]
    )
    assert "field 'rounds'" in line


def test_unknown_protocol(capsys, tmp_path):
    line = run_error(capsys, tmp_path, ["run", "no-such-protocol", "--question", QUESTION])
    assert "no-such-protocol" in line and "debate" in line


def test_unknown_persona_in_only(capsys, tmp_path):
    line = run_error(capsys, tmp_path, ["run", "--question", QUESTION, "--only", "verdant,nobody"])
    assert "nobody" in line and "--only" in line


def test_missing_personas_directory(capsys, tmp_path):
    missing = tmp_path / "no-cards-here"
    line = run_error(capsys, tmp_path, ["run", "--question", QUESTION, "--personas", str(missing)])
    assert str(missing) in line and "not found" in line
    line = run_error(capsys, tmp_path, ["personas", str(missing)])
    assert str(missing) in line


def test_directory_without_cards(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = run_error(capsys, tmp_path, ["personas", str(empty)])
    assert str(empty) in line and "no persona cards" in line


def test_show_missing_file(capsys, tmp_path):
    line = run_error(capsys, tmp_path, ["show", "nothing.jsonl"])
    assert "nothing.jsonl" in line and "not found" in line


@pytest.mark.parametrize(
    "content",
    ["hello world\n", '{"type": "message"}\n', "", "\x00\x01binary"],
    ids=["text", "json-not-header", "empty", "binary"],
)
def test_show_non_transcript(capsys, tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_text(content)
    line = run_error(capsys, tmp_path, ["show", str(path)])
    assert str(path) in line


def test_show_a_directory(capsys, tmp_path):
    line = run_error(capsys, tmp_path, ["show", str(tmp_path)])
    assert "directory" in line


def test_unknown_model_does_not_import_torch(tmp_path):
    """In a fresh interpreter: a refused model never imports torch."""
    card = write_card(tmp_path / "model.yaml", GOOD_CARD)
    code = textwrap.dedent(f"""
        import sys
        from agora.cli import main
        assert main(["run", "--question", "q", "--personas", {str(card)!r}]) == 2
        assert "torch" not in sys.modules, "torch was imported"
        assert "agora.backends.transformers.backend" not in sys.modules
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("agora: error:") and "no-such-model" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.yaml"]


def test_out_is_proved_writable_before_anything_loads(capsys, tmp_path, monkeypatch):
    """The --out pre-check creates (and removes) a file beside the transcript, so a folder that refuses new files is
    refused up front whatever its permission bits say (they say yes to root everywhere)."""
    import agora.cli
    import agora.files

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "alpha.yaml").write_text(
        yaml.safe_dump({"name": "alpha", "values": {"fairness": 1.0}, "description": "You are alpha."})
    )
    out = tmp_path / "out" / "t.jsonl"
    monkeypatch.setattr(agora.files.tempfile, "mkstemp", refuse)
    line = run_error(capsys, tmp_path, ["run", "-q", QUESTION, "--personas", str(cards), "--out", str(out)])
    assert str(out) in line and "field '--out'" in line and "is not writable (Permission denied)" in line
    monkeypatch.undo()
    # a writable folder passes, and the check leaves nothing behind
    agora.cli.check_out_path(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cards"]
    existing = tmp_path / "t.jsonl"
    existing.write_text("kept\n")
    agora.cli.check_out_path(existing)
    assert existing.read_text() == "kept\n"
