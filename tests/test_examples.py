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


PARAMS = [
    pytest.param(p.name, marks=pytest.mark.slow if p.name in NEEDS_MODEL else (), id=p.stem)
    for p in sorted(EXAMPLES.glob("*.py"))
]


@pytest.mark.parametrize("name", PARAMS)
def test_example_runs(name, tmp_path):
    cmd = [sys.executable, str(EXAMPLES / name), *ARGS.get(name, [])]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip()
