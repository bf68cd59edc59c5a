"""Sixteen personas on one real model hold little more memory than one: the benchmark's own probe, in fresh processes.

Each probe loads SmolLM2-135M-Instruct and answers one proposal phase (about 134 prompt tokens, 64 new tokens,
greedy) for 1 or for 16 agents, and reports the peak resident memory of the phase (Linux only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc"),
]

REPO = Path(__file__).resolve().parent.parent


def phase_peak_mb(agents: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_batching.py"), "--probe-memory", str(agents)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_sixteen_agents_stay_within_1_2x_the_memory_of_one():
    one, sixteen = phase_peak_mb(1), phase_peak_mb(16)
    assert one["agents"] == 1 and sixteen["agents"] == 16
    # the phase really ran on the loaded model: the peak includes the weights it read
    assert one["phase_peak_mb"] > one["weights_mb"]
    assert sixteen["phase_peak_mb"] <= 1.2 * one["phase_peak_mb"], (one, sixteen)
