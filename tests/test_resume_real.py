"""A real-model debate killed with SIGKILL in the middle of a phase, then resumed with `agora resume`, ends with the
same messages and outcome as the uninterrupted run with the same seed. Marked slow; CI runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import PROTOCOLS, REPO

from agora import Transcript
from agora.transcript import PhaseEvent

pytestmark = pytest.mark.slow

AGENTS = "verdant,enterprise,libertas"
QUESTION = "Should cities ban cars from their centres?"
TOKENS = {"propose": 24, "critique": 16, "revise": 24, "vote": 8}


def short_protocol(directory: Path) -> Path:
    """The shipped debate protocol with short replies, so the test stays quick."""
    directory.mkdir()
    shutil.copytree(PROTOCOLS / "debate", directory / "debate")
    spec = yaml.safe_load((PROTOCOLS / "debate.yaml").read_text())
    for phase in spec["phases"]:
        phase["max_new_tokens"] = TOKENS[phase["name"]]
    path = directory / "short.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def agora_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agora", *args]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["AGORA_NUM_THREADS"] = "1"  # the same arithmetic in every process, and gentle on a shared machine
    return env


def run_args(spec: Path, out: Path) -> list[str]:
    return agora_cli(
        "run", str(spec), "-q", QUESTION, "--only", AGENTS, "--rounds", "2", "--seed", "5", "-o", str(out)
    )


def phases_in(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(1 for line in path.read_bytes().split(b"\n") if b'"type":"phase"' in line)


def test_sigkill_mid_phase_then_resume_equals_the_uninterrupted_run(tmp_path):
    spec = short_protocol(tmp_path / "proto")
    env = environment()

    reference = tmp_path / "reference.jsonl"
    done = subprocess.run(run_args(spec, reference), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    full = Transcript.load(reference)
    assert full.status == "completed"

    killed = tmp_path / "killed.jsonl"
    proc = subprocess.Popen(
        run_args(spec, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300
        while phases_in(killed) < 1 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert phases_in(killed) >= 1, "the first phase never completed"
        time.sleep(0.5)  # the next phase is under way: its turns are being generated
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    cut = Transcript.load(killed)
    phases = [e for e in cut.events if isinstance(e, PhaseEvent)]
    assert cut.status == "incomplete" and 1 <= len(phases) < 6, [(p.round, p.phase) for p in phases]

    resumed = subprocess.run(
        agora_cli("resume", str(killed)), env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(phases)} of 6 phases recorded" in resumed.stderr
    again = Transcript.load(killed)
    assert again.status == "completed"
    assert again.content() == full.content()  # every message, ballot and the outcome, timing aside
    assert again.outcome.answer == full.outcome.answer and again.outcome.answer
    note = again.header.timing["resumes"][0]
    assert note["after"] == [phases[-1].round, phases[-1].phase]
    lines = killed.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line) for line in lines) and json.loads(lines[-1])["status"] == "completed"
