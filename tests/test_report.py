"""Loading transcripts and experiment directories, the HTML report, notebook display, and `agora show`/`agora report`
on every kind of transcript: complete, with failed turns, failed, cut off, or written by a newer agora."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from pathlib import Path

import pytest
from analysis_helpers import debate_transcript, header, message
from conftest import make_persona, make_reply

from agora import Debate, DebateError, ScriptedBackend, Transcript, TranscriptError, load_protocol
from agora.analysis import accuracy_table, load, rows, summarise, to_dataframe
from agora.analysis.load import Results
from agora.cli import main
from agora.views.html import outcome_html, render_report, transcript_html, write_report

pytest.importorskip("matplotlib", reason="the report extra")

QUESTION = "Should the town build the bridge?"


def scripted_debate(
    path: Path, *, fail: dict[str, str] | None = None, rounds: int = 1, seed: int = 0
) -> Path:
    """A three-agent scripted debate written to ``path``; ``fail`` maps agent -> phase whose turns raise."""
    fail = fail or {}
    base = make_reply()

    def reply(request):
        if fail.get(request.agent) in (request.phase, "*"):
            return RuntimeError(f"{request.agent} is down")
        return base(request)

    people = [make_persona(n) for n in ("alpha", "bravo", "charlie")]
    debate = Debate(
        people,
        load_protocol("debate").with_overrides(rounds=rounds),
        seed=seed,
        backend=ScriptedBackend(reply),
    )
    with contextlib.suppress(DebateError):  # a failed debate still leaves its transcript
        debate.run_sync(QUESTION, out=path)
    return path


def images(html: str) -> list[str]:
    return re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', html)


def assert_self_contained(html: str) -> None:
    """Nothing the page shows comes from another file or the network."""
    assert not re.search(r"<(script|link|iframe)\b[^>]*\b(src|href)=", html)
    assert not re.search(r'\bsrc="(?!data:)', html)
    assert "url(" not in html


# -- one transcript ----------------------------------------------------------------------------------------------
def test_report_of_a_hand_built_debate(tmp_path):
    path = debate_transcript().save(tmp_path / "hand.jsonl")
    html = render_report(load(path))
    assert images(html) == ["consensus curve", "agreement heatmap", "persuasion graph"]
    assert_self_contained(html)
    assert QUESTION in html
    assert "Tallies under each rule" in html and "plurality" in html
    assert "round 2 · revise" in html and "Maybe later" in html
    assert html.count('class="pos"') >= 12  # 4 agents x 3 stages, plus the legend


def test_report_escapes_contributed_text(tmp_path):
    t = Transcript([header(agents=("a", "b"), edges=[("a", "b"), ("b", "a")])])
    t.append(message(1, "propose", "a", "<script>alert(1)</script>"))
    t.append(message(1, "propose", "b", "No"))
    html = render_report(load(t.save(tmp_path / "x.jsonl")))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_write_report_cli(tmp_path, capsys):
    path = scripted_debate(tmp_path / "t.jsonl")
    out = tmp_path / "out" / "report.html"
    assert main(["report", str(path), "-o", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    html = out.read_text()
    assert len(images(html)) == 3 and "completed" in html and "alpha" in html


@pytest.mark.parametrize(
    "kind",
    ["failed-turns", "failed-debate", "cut-off", "no-outcome", "newer-agora"],
)
def test_every_kind_of_transcript_shows_and_reports(tmp_path, capsys, kind):
    path = tmp_path / "t.jsonl"
    if kind == "failed-turns":
        scripted_debate(path, fail={"bravo": "critique"}, rounds=2)
        expect_show, expect_html = (
            "bravo ✗ failed: RuntimeError: bravo is down",
            "failed: RuntimeError: bravo is down",
        )
    elif kind == "failed-debate":
        scripted_debate(path, fail={"alpha": "revise", "bravo": "revise"})
        expect_show, expect_html = "Debate failed:", "The debate failed:"
    elif kind == "cut-off":
        scripted_debate(path)
        path.write_bytes(path.read_bytes()[:-15])
        expect_show, expect_html = "cut off", "last line was cut off"
    elif kind == "no-outcome":
        full = Transcript.load(scripted_debate(path))
        Transcript([e for e in full.events if e.type in ("header", "message", "phase")]).save(path)
        expect_show, expect_html = "did not finish", "No outcome"
    else:
        scripted_debate(path)
        lines = path.read_text().splitlines()
        lines.insert(3, json.dumps({"type": "resume", "from_round": 2, "timing": {}}))
        event = json.loads(lines[1])
        event["attempt"] = 2  # a field this version does not know
        lines[1] = json.dumps(event)
        end = json.loads(lines[-1])
        end["status"] = "paused"  # a value this version does not accept
        lines[-1] = json.dumps(end)
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(TranscriptError, match="line 2"):
            Transcript.load(path)
        lenient = Transcript.load(path, strict=False)
        assert [e.type for e in lenient.unknown] == ["resume", "end"]
        assert lenient.messages[0].id == "r1.propose.alpha" and lenient.outcome is not None
        expect_show = expect_html = "cannot read were skipped: end, resume"
    assert main(["show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert expect_show in shown
    assert "Positions by stage:" in shown
    out = tmp_path / "r.html"
    assert main(["report", str(path), "-o", str(out)]) == 0
    html = out.read_text()
    assert expect_html in html
    assert len(images(html)) == 3


# -- experiment directories --------------------------------------------------------------------------------------
@pytest.fixture
def experiment(tmp_path):
    root = tmp_path / "exp"
    (root / "transcripts" / "arm-b").mkdir(parents=True)
    scripted_debate(root / "transcripts" / "d1.jsonl", seed=1)
    scripted_debate(root / "transcripts" / "arm-b" / "d2.jsonl", fail={"charlie": "propose"}, seed=2)
    (root / "transcripts" / "broken.jsonl").write_text('{"type": "header", "protocol": 3}\n')
    (root / "summary.md").write_text("# results\n")
    (root / "results.csv").write_text(
        "item,condition,correct\n1,debate,true\n2,debate,false\n3,debate,true\n1,single,false\n2,single,false\n"
    )
    return root


def test_load_an_experiment_directory(experiment):
    c = load(experiment)
    assert [t.path.name for t in c.transcripts] == ["d2.jsonl", "d1.jsonl"]
    assert [r.path.name for r in c.results] == ["results.csv"]
    assert list(c.unreadable) == [experiment / "transcripts" / "broken.jsonl"]
    assert "line 1" in c.unreadable[experiment / "transcripts" / "broken.jsonl"]


def test_accuracy_table_from_per_item_rows(experiment):
    (table,) = [accuracy_table(r) for r in load(experiment).results]
    assert table["columns"] == ["condition", "accuracy", "n"]
    assert table["rows"] == [["debate", pytest.approx(2 / 3), 3], ["single", 0.0, 2]]


def test_accuracy_table_from_an_accuracy_column(tmp_path):
    rows_ = [{"arm": "debate", "accuracy": 0.61, "n": 100}, {"arm": "solo", "accuracy": 0.55, "n": 100}]
    table = accuracy_table(Results(tmp_path / "r.jsonl", rows_))
    assert table["columns"] == ["arm", "accuracy", "n"]
    assert table["rows"] == [["debate", 0.61, 100], ["solo", 0.55, 100]]
    assert accuracy_table(Results(tmp_path / "r.jsonl", [{"model": "x", "latency": 1.0}])) is None


def test_report_of_an_experiment_directory(experiment, tmp_path):
    out = tmp_path / "exp.html"
    assert main(["report", str(experiment), "-o", str(out)]) == 0
    html = out.read_text()
    assert_self_contained(html)
    assert images(html) == ["consensus curve", "agreement heatmap", "persuasion graph"]
    assert "Experiment: 2 debates" in html
    assert "transcripts/broken.jsonl" in html
    accuracy = html[html.index("Accuracy") : html.index("</table>", html.index("Accuracy"))]
    assert "debate" in accuracy and "0.667" in accuracy and "single" in accuracy and "0.000" in accuracy
    assert html.count('<details id="debate-') == 2


def test_aggregate_over_debates(experiment):
    from agora.analysis import aggregate

    e = aggregate([summarise(t) for t in load(experiment).transcripts])
    assert len(e.debates) == 2
    assert set(e.agreement) == {"alpha", "bravo", "charlie"}
    # every scripted answer is unique to its agent: nobody agrees with anybody, and nobody ever flips
    assert e.agreement["alpha"]["bravo"] == 0.0 and e.agreement["alpha"]["alpha"] == 1.0
    assert e.consensus[-1] == pytest.approx(1 / 3)
    assert e.reached_consensus == 0


# -- user mistakes -------------------------------------------------------------------------------------------------
def test_report_errors_write_nothing(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "missing.jsonl"), "-o", str(out)]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty), "-o", str(out)]) == 2
    assert "no agora transcript" in capsys.readouterr().err
    notes = tmp_path / "notes.jsonl"
    notes.write_text("hello\n")
    assert main(["report", str(notes), "-o", str(out)]) == 2
    assert str(notes) in capsys.readouterr().err
    path = scripted_debate(tmp_path / "t.jsonl")
    assert main(["report", str(path), "-o", str(tmp_path)]) == 2
    assert "--out" in capsys.readouterr().err
    assert not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))


# -- tables and notebooks ------------------------------------------------------------------------------------------
def test_rows_and_dataframe(tmp_path):
    t = Transcript.load(scripted_debate(tmp_path / "t.jsonl", fail={"bravo": "critique"}))
    table = rows(t)
    assert len(table) == len(t.messages) + len(t.ballots)
    messages = [r for r in table if r["event"] == "message"]
    # scripted answers name the agent and the phase: three proposals, then three new positions in the revision
    assert [r["position"] for r in messages if r["kind"] == "propose"] == ["P1", "P2", "P3"]
    assert [r["position"] for r in messages if r["kind"] == "revise"] == ["P4", "P5", "P6"]
    assert {r["position"] for r in messages if r["kind"] == "critique"} == {None}
    failed = [r for r in messages if r["error"]]
    assert [(r["agent"], r["phase"]) for r in failed] == [("bravo", "critique")]
    ballots = [r for r in table if r["event"] == "ballot"]
    assert len(ballots) == 3 and all(r["first_choice"] for r in ballots)
    pd = pytest.importorskip("pandas")
    frame = to_dataframe([t, t])
    assert isinstance(frame, pd.DataFrame) and len(frame) == 2 * len(table)
    assert frame.groupby("event").size().to_dict() == {"ballot": 6, "message": 2 * len(t.messages)}


def test_notebook_display(tmp_path):
    people = [make_persona(n) for n in ("alpha", "bravo")]
    result = Debate(
        people, load_protocol("debate").with_overrides(rounds=1), backend=ScriptedBackend(make_reply())
    ).run_sync(QUESTION)
    html = result._repr_html_()
    assert (
        QUESTION in html
        and "round 1 · revise" in html
        and f"<strong>Winner:</strong> {result.winner}" in html
    )
    assert result.transcript._repr_html_() == html
    fragment = result.outcome._repr_html_()
    assert fragment == outcome_html(result.outcome)
    assert "Tallies under each rule" in fragment and "borda" in fragment
    assert "No outcome" in outcome_html(None)
    partial = Transcript(result.transcript.events[:3])
    assert "No outcome" in transcript_html(partial)


def test_write_report_is_atomic(tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old")
    with pytest.raises(TranscriptError):
        write_report(tmp_path / "nothing.jsonl", out)
    assert out.read_text() == "old"


def test_report_without_matplotlib_is_a_clear_error(tmp_path, capsys, monkeypatch):
    path = debate_transcript().save(tmp_path / "t.jsonl")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if matplotlib were not installed
    out = tmp_path / "r.html"
    assert main(["report", str(path), "-o", str(out)]) == 2
    assert "pip install 'agora[report]'" in capsys.readouterr().err
    assert not out.exists()
    assert "Tallies under each rule" in Transcript.load(path)._repr_html_()  # notebooks need no matplotlib
