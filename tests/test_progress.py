"""Progress on stderr: bars on a terminal; on a pipe or in a log whole lines only (no bars, no carriage returns,
nothing per turn); nothing at all with --quiet. Debates here run on a scripted backend."""

from __future__ import annotations

import io
import os
import re
import sys
import textwrap
import threading
from pathlib import Path
from typing import TextIO

import pytest
from conftest import make_persona, make_reply

from agora import Debate, ScriptedBackend, load_protocol
from agora.cli import main
from agora.errors import DebateError
from agora.experiment.runner import SweepProgress
from agora.run.engine import Progress
from agora.tasks import TaskItem
from agora.views.progress import DebateProgress, SweepDisplay, is_terminal, screen

QUESTION = "Should the town square be closed to cars?"
# the phases of a one-round 'debate' and of a two-round one (round 2 has no proposals)
ONE_ROUND = ["[round 1/1] propose", "[round 1/1] critique", "[round 1/1] revise", "[round 1/1] vote"]
TWO_ROUNDS = [p.replace("1/1", "1/2") for p in ONE_ROUND[:3]] + [
    "[round 2/2] critique",
    "[round 2/2] revise",
    "[round 2/2] vote",
]


class TerminalStream(io.StringIO):
    """A stream that says it is a terminal, as stderr does in an interactive shell."""

    def isatty(self) -> bool:
        return True


def failing(agent: str, phase: str):
    """The usual scripted replies, except that ``agent``'s turn in ``phase`` fails."""
    reply = make_reply()

    def answer(request):
        if request.agent == agent and request.phase == phase:
            raise RuntimeError("the model fell over")
        return reply(request)

    return answer


def debate_with(stream: TextIO, reply=None, rounds: int = 1) -> None:
    people = [make_persona(n) for n in ("alpha", "bravo", "charlie")]
    with DebateProgress(stream) as progress:
        Debate(
            people,
            load_protocol("debate").with_overrides(rounds=rounds),
            backend=ScriptedBackend(reply or make_reply()),
            progress=progress,
        ).run_sync(QUESTION)


def frames(text: str) -> list[str]:
    """What a terminal showed, redraw by redraw: the text split at carriage returns and newlines."""
    return [f.rstrip() for f in re.split(r"[\r\n]", text) if f.strip()]


def test_is_terminal():
    assert is_terminal(TerminalStream())
    assert not is_terminal(io.StringIO())
    closed = io.StringIO()
    closed.close()
    assert not is_terminal(closed)


def test_a_terminal_that_reports_no_size_still_shows_the_bars(monkeypatch):
    """A fresh pseudo-terminal says it is 0 by 0; tqdm asks stderr's size itself, and told that, draws nothing."""
    if not hasattr(os, "openpty"):
        pytest.skip("no pseudo-terminals here")
    master, slave = os.openpty()
    received: list[bytes] = []

    def read() -> None:
        while chunk := _read(master):
            received.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with os.fdopen(slave, "w", encoding="utf-8") as terminal:
        if os.get_terminal_size(terminal.fileno()).columns != 0:
            pytest.skip("this system's pseudo-terminals report a size")
        assert screen(terminal)["ncols"] > 0 and screen(terminal)["nrows"] > 0
        monkeypatch.setattr(sys, "stderr", terminal)
        debate_with(sys.stderr)
        monkeypatch.undo()
    reader.join(timeout=10)
    os.close(master)
    shown = frames(b"".join(received).decode("utf-8"))
    for phase in ONE_ROUND:
        assert any(f.startswith(phase) and "3/3 answered in" in f for f in shown), phase


def _read(fd: int) -> bytes:
    """The next bytes from a pseudo-terminal's master side; empty once the other side is closed."""
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO on Linux once the slave side is closed
        return b""


# -- a debate ----------------------------------------------------------------------------------------------------
def test_on_a_terminal_each_phase_is_a_bar_with_its_counts():
    stream = TerminalStream()
    debate_with(stream, failing("charlie", "critique"))
    text = stream.getvalue()
    assert "\r" in text  # redrawn in place
    shown = frames(text)
    assert shown[0] == "loading model(s): scripted ..."
    for phase in ONE_ROUND:
        # while it runs: agents done of the phase's agents, elapsed time and ETA
        assert any(f.startswith(phase) and "0/3 agents, " in f and "elapsed, ETA " in f for f in shown), phase
    # when it closes, the bar stays as the phase's summary; a failed turn leaves it short and is counted
    closed = [f for f in shown if "answered in" in f]
    assert [f.split("  ")[0] for f in closed] == ONE_ROUND
    assert re.search(r"\[round 1/1\] propose .* 3/3 answered in \d+\.\d s$", closed[0])
    assert re.search(r"\[round 1/1\] critique .* 2/3 answered in \d+\.\d s, 1 failed$", closed[1])
    assert text.endswith("\n")  # the last bar is closed: what follows starts on a line of its own


def test_off_a_terminal_one_whole_line_per_phase_and_nothing_per_turn():
    stream = io.StringIO()
    debate_with(stream, failing("charlie", "critique"), rounds=2)
    text = stream.getvalue()
    assert "\r" not in text and "agents" not in text and "ETA" not in text
    lines = text.splitlines()
    assert lines[0] == "loading model(s): scripted ..."
    assert len(lines) == 1 + len(TWO_ROUNDS)  # 3 agents each, but one line per phase
    for line, phase in zip(lines[1:], TWO_ROUNDS, strict=True):
        assert line.startswith(phase) and re.search(r" [23]/3 answered in \d+\.\d s", line)
    assert lines[2].endswith(", 1 failed") and lines[4].endswith(", 1 failed")


@pytest.mark.parametrize("stream", [TerminalStream(), io.StringIO()], ids=["terminal", "pipe"])
def test_an_early_stop_says_why(stream):
    people = [make_persona(n) for n in ("alpha", "bravo", "charlie")]
    same = ScriptedBackend(lambda r: "Ranking: A" if r.phase == "vote" else "Answer: yes.")
    with DebateProgress(stream) as progress:
        Debate(people, "task_debate", backend=same, progress=progress).run_sync(QUESTION)
    assert "\nstopped after round 1 of 2: stable\n" in stream.getvalue()


def test_a_debate_cut_short_mid_phase_leaves_no_bar_open():
    stream = TerminalStream()
    display = DebateProgress(stream)

    def cut_short(p: Progress) -> None:
        display(p)
        if p.stage == "turn":
            raise KeyError("cut short")

    debate = Debate(
        [make_persona(n) for n in ("alpha", "bravo")],
        load_protocol("debate").with_overrides(rounds=1),
        backend=ScriptedBackend(make_reply()),
        progress=cut_short,
    )
    with pytest.raises(DebateError, match="cut short"), display:
        debate.run_sync(QUESTION)
    # closed on the way out: the error line printed next starts on a line of its own
    assert stream.getvalue().endswith("\n") and "[round 1/1] propose" in stream.getvalue()


# -- the command line ----------------------------------------------------------------------------------------------
@pytest.fixture
def scripted_cli(monkeypatch):
    """`agora run` on the scripted backend instead of the cards' models."""
    import agora.run.debate

    class ScriptedDebate(agora.run.debate.Debate):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs, backend=ScriptedBackend(make_reply()))

    monkeypatch.setattr(agora.run.debate, "Debate", ScriptedDebate)


def run_cli(tmp_path: Path, *extra: str) -> int:
    out = tmp_path / "t.jsonl"
    argv = ["run", "--question", QUESTION, "--only", "verdant,enterprise,hygieia", "--rounds", "1"]
    return main([*argv, "--out", str(out), *extra])


def test_cli_run_off_a_terminal(scripted_cli, tmp_path, capsys):
    assert run_cli(tmp_path) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and " agents, " not in captured.err
    lines = captured.err.splitlines()
    assert lines[0].startswith("debate 'debate': 3 agents (enterprise, hygieia, verdant), 1 rounds")
    assert lines[1].startswith("loading model(s): ")
    assert [line.split("  ")[0] for line in lines[2:]] == ONE_ROUND
    # results on stdout as before
    assert "Question: " + QUESTION in captured.out and f"Transcript: {tmp_path / 't.jsonl'}" in captured.out


def test_cli_run_quiet_prints_no_progress_even_on_a_terminal(scripted_cli, tmp_path, capsys, monkeypatch):
    terminal = TerminalStream()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run_cli(tmp_path, "--quiet") == 0
    assert terminal.getvalue() == ""
    assert "Transcript: " in capsys.readouterr().out


def test_cli_run_on_a_terminal_shows_bars(scripted_cli, tmp_path, capsys, monkeypatch):
    terminal = TerminalStream()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run_cli(tmp_path) == 0
    shown = frames(terminal.getvalue())
    assert shown[0].startswith("debate 'debate': 3 agents")
    for phase in ONE_ROUND:
        assert any(f.startswith(phase) and "3/3 answered in" in f for f in shown), phase
    out = capsys.readouterr().out
    assert "\r" not in out and "Transcript: " in out


# -- an experiment sweep -------------------------------------------------------------------------------------------
def sweep_notices(display: SweepDisplay, total: int = 4, skipped: int = 0) -> None:
    """What the runner sends for a sweep of ``total`` runs, ``skipped`` of them done before; the third run fails."""
    display.notice(f"experiment tiny: 2 configurations x {total // 2} items = {total} runs")
    display(SweepProgress("tiny", skipped, total, skipped))
    for done in range(skipped + 1, total + 1):
        mark = "FAILED" if done == 3 else "right"
        display.notice(f"[{done}/{total}] vote · boolq/{done}: {mark} (0.1 s) · ETA 0m01s")
        display(SweepProgress("tiny", done, total, skipped, mark))


def test_sweep_on_a_terminal_is_one_bar_under_the_run_lines():
    stream = TerminalStream()
    with SweepDisplay(stream) as display:
        sweep_notices(display)
    shown = frames(stream.getvalue())
    assert shown[0] == "experiment tiny: 2 configurations x 2 items = 4 runs"
    assert any(f.startswith("experiment tiny ") and "0/4 runs, " in f and "elapsed, ETA " in f for f in shown)
    assert re.search(r"^experiment tiny .* 4/4 runs, .* elapsed, ETA .*, 1 failed$", shown[-1])
    for k in range(1, 5):  # every run's line is kept, above the bar
        assert any(f.startswith(f"[{k}/4] vote · boolq/{k}: ") for f in shown)


def test_sweep_off_a_terminal_is_the_run_lines_only():
    stream = io.StringIO()
    with SweepDisplay(stream) as display:
        sweep_notices(display, total=4, skipped=2)
    assert "\r" not in stream.getvalue()
    assert stream.getvalue().splitlines() == [
        "experiment tiny: 2 configurations x 2 items = 4 runs",
        "[3/4] vote · boolq/3: FAILED (0.1 s) · ETA 0m01s",
        "[4/4] vote · boolq/4: right (0.1 s) · ETA 0m01s",
    ]


def test_sweep_with_nothing_left_to_run_draws_no_bar():
    stream = TerminalStream()
    with SweepDisplay(stream) as display:
        display.notice("experiment tiny: 1 configurations x 2 items = 2 runs")
        display(SweepProgress("tiny", 2, 2, 2))
    assert stream.getvalue() == "experiment tiny: 1 configurations x 2 items = 2 runs\n"


SPEC = """
name: tiny
tasks:
  - {task: boolq, n: 2}
protocols:
  - vote
pools:
  trio: [{persona: empirica}, {persona: hygieia}, {persona: aequitas}]
seeds: [0]
"""


@pytest.fixture
def scripted_sweep(monkeypatch, tmp_path):
    """`agora experiment` on made-up yes/no items and the scripted backend (no task data or model needed)."""
    import agora.experiment.items as drawn
    import agora.experiment.runner as runner

    def items(name: str, n: int | None = None, seed: int = 0) -> list[TaskItem]:
        return [
            TaskItem(name, str(i), f"Is {i} even?", "yesno", "yes" if i % 2 == 0 else "no")
            for i in range(n or 2)
        ]

    class ScriptedSweep(runner.Sweep):
        def __init__(self, *args, **kwargs):
            reply = ScriptedBackend(lambda r: "Ranking: A, B" if r.phase == "vote" else "Answer: yes.")
            super().__init__(*args, **kwargs, backend=reply)

    monkeypatch.setattr(drawn, "load_task", items)
    monkeypatch.setattr(runner, "Sweep", ScriptedSweep)
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(SPEC), encoding="utf-8")
    return spec


def test_cli_experiment_off_a_terminal_and_quiet(scripted_sweep, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["experiment", str(scripted_sweep), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err
    lines = captured.err.splitlines()
    assert lines[0] == "experiment tiny: 1 configurations x 2 items = 2 runs"
    assert [line.split(" · ")[0] for line in lines[1:]] == ["[1/2] vote", "[2/2] vote"]
    assert all("ETA" in line for line in lines[1:])
    assert "2 runs now, 0 already done" in captured.out
    assert main(["experiment", str(scripted_sweep), "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "0 runs now, 2 already done" in captured.out


def test_cli_experiment_on_a_terminal_shows_a_bar(scripted_sweep, tmp_path, capsys, monkeypatch):
    terminal = TerminalStream()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["experiment", str(scripted_sweep), "--out", str(tmp_path / "out")]) == 0
    shown = frames(terminal.getvalue())
    assert re.search(r"^experiment tiny .* 2/2 runs, ", shown[-1])
    assert "2 runs now" in capsys.readouterr().out
    quiet = TerminalStream()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(["experiment", str(scripted_sweep), "--out", str(tmp_path / "again"), "--quiet"]) == 0
    assert quiet.getvalue() == "" and "2 runs now" in capsys.readouterr().out
