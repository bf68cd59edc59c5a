"""Every file in examples/ runs (with its smallest settings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# extra arguments that keep each example short in the test suite
ARGS: dict[str, list[str]] = {
    "quickstart.py": ["--rounds", "1"],
}
NEEDS_MODEL = {"quickstart.py"}


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(name, tmp_path, request):
    if name in NEEDS_MODEL and "slow" not in request.keywords:
        request.applymarker(pytest.mark.slow)
    cmd = [sys.executable, str(EXAMPLES / name), *ARGS.get(name, [])]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip()
