"""agora as real processes: one writer per transcript, and exit statuses that match the transcript's end.

Two `agora run --out SAME` or two `agora resume` of one file at once: exactly one succeeds, the other exits 2 with
one line before it changes anything, and the file stays readable and whole. A closed stderr (the reader of a pipe
left) changes neither the debate nor the exit status.

Each process runs the real command line; its agents run on a scripted backend registered under the name ``slow``
(cards say ``model: slow:x``) whose replies take DELAY seconds, so that two processes overlap for certain.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agora import Transcript

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="advisory file locks are POSIX")

LAUNCHER = textwrap.dedent(
    """
    import sys, time
    from agora import ScriptedBackend
    from agora.backends.registry import register_backend
    from agora.cli import main

    delay, mode = float(sys.argv[1]), sys.argv[2]

    def reply(request):
        time.sleep(delay)
        if mode == "fail" and request.phase == "critique":
            raise RuntimeError("the model broke")
        if request.phase == "vote":
            return "Ranking: A, B, C"
        return f"Answer: {request.agent} says yes. Because it is fair."

    backend = ScriptedBackend(reply)
    register_backend("slow", lambda ref, persona: backend)
    sys.exit(main(sys.argv[3:]))
    """
)


def cards(root: Path) -> Path:
    folder = root / "cards"
    folder.mkdir()
    for name in ("ann", "bo", "cy"):
        (folder / f"{name}.yaml").write_text(
            f"name: {name}\nmodel: 'slow:x'\nvalues: {{fairness: 1}}\ndescription: You are {name}.\n"
        )
    return folder


@pytest.fixture
def agora(tmp_path):
    """Starts `agora ARGV...` processes whose replies each take DELAY seconds; all are killed and waited for at the
    end, whatever happens."""
    started: list[subprocess.Popen] = []
    script = tmp_path / "launch.py"
    script.write_text(LAUNCHER)

    def start(delay: float, *argv: str, mode: str = "ok") -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(delay), mode, *argv],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()


def wait_for_lines(path: Path, lines: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= lines:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {lines} lines")


def run_argv(root: Path, out: Path) -> list[str]:
    folder = root / "cards"
    if not folder.exists():
        cards(root)
    return ["run", "debate", "--personas", str(folder), "--question", "Open on Sundays?", "--out", str(out)]


def test_a_second_run_writing_the_same_transcript_is_refused_and_the_first_loses_nothing(tmp_path, agora):
    out = tmp_path / "same.jsonl"
    first = agora(0.3, *run_argv(tmp_path, out), "--quiet")
    wait_for_lines(out, 2)  # the first is writing
    other = run_argv(tmp_path, out)
    other[other.index("--question") + 1] = "Other?"
    second = agora(0.0, *other, "--quiet")
    _, err = second.communicate(timeout=120)
    assert first.poll() is None, "the first run ended before the second tried: the test proves nothing"
    assert second.returncode == 2, err
    assert err.count("\n") == 1 and "another agora process" in err and str(out) in err
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    t = Transcript.load(out)
    assert t.status == "completed" and t.header.question == "Open on Sundays?" and t.outcome is not None


def test_two_resumes_of_one_file_one_succeeds_one_exits_2_and_the_file_is_whole(tmp_path, agora):
    out = tmp_path / "cut.jsonl"
    whole = agora(0.0, *run_argv(tmp_path, out), "--quiet")
    assert whole.wait(timeout=300) == 0
    lines = out.read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if '"type":"phase"' in line) + 1  # after the first phase
    out.write_text("".join(lines[:cut]))
    resumes = [agora(0.3, "resume", str(out), "--quiet") for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in resumes]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "another agora process" in refused and refused.count("\n") == 1
    t = Transcript.load(out)
    assert t.status == "completed" and t.outcome is not None
    assert (
        len(t.timing_resumes()) == 1 if hasattr(t, "timing_resumes") else len(t.header.timing["resumes"]) == 1
    )


@pytest.mark.parametrize(("mode", "status", "end"), [("ok", 0, "completed"), ("fail", 1, "failed")])
def test_a_closed_stderr_changes_neither_the_debate_nor_the_exit_status(tmp_path, agora, mode, status, end):
    out = tmp_path / "piped.jsonl"
    proc = agora(0.05, *run_argv(tmp_path, out), mode=mode)  # progress lines go to stderr...
    proc.stderr.close()  # ...whose reader leaves at once
    assert proc.wait(timeout=300) == status
    t = Transcript.load(out)
    assert t.status == end
    if end == "failed":
        assert "the model broke" in t.end.error and "BrokenPipe" not in t.end.error
