"""Every file in examples/ runs (with its smallest settings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# extra arguments that keep each example short in the test suite
ARGS: dict[str, list[str]] = {
    "quickstart.py": ["--rounds", "1"],
    "values_rules.py": ["--rounds", "1"],
    "two_families.py": ["--rounds", "1", "--max-new-tokens", "32"],
}
NEEDS_MODEL = {"quickstart.py", "values_rules.py", "two_families.py"}
# catalog models an example needs beyond the default one (installed by `make install-dev`)
NEEDS_CATALOG = {"two_families.py": "qwen2.5-coder-0.5b-instruct"}
# what an example's output must show
EXPECT = {
    "two_families.py": "messages from 2 models: qwen2.5-coder-0.5b-instruct, smollm2-135m-instruct",
    "values_rules.py": "rules x 2 weightings",
}


PARAMS = [
    pytest.param(p.name, marks=pytest.mark.slow if p.name in NEEDS_MODEL else (), id=p.stem)
    for p in sorted(EXAMPLES.glob("*.py"))
]


@pytest.mark.parametrize("name", PARAMS)
def test_example_runs(name, tmp_path):
    if name in NEEDS_CATALOG:
        from agora.backends.catalog import CATALOG, part_paths

        entry = CATALOG[NEEDS_CATALOG[name]]
        if part_paths(entry) is None:
            pytest.skip(f"{entry.name} is not installed: {entry.install_hint}")
    cmd = [sys.executable, str(EXAMPLES / name), *ARGS.get(name, [])]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip()
    assert EXPECT.get(name, "") in proc.stdout


SPECS = sorted(EXAMPLES.glob("*.yaml"))
# catalog models an example experiment needs beyond the default one
SPEC_NEEDS_CATALOG = {
    "participation.yaml": ("gemma3-270m", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"),
}


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_example_experiment_runs(spec, tmp_path):
    """Each example experiment runs on the real model with one item per task set, and resumes with nothing left."""
    from agora.backends.catalog import CATALOG, part_paths

    for model in SPEC_NEEDS_CATALOG.get(spec.name, ()):
        entry = CATALOG[model]
        if (
            part_paths(entry) is None
        ):  # the 1.5B baseline is not part of the test install (1.1 GB, slow on a CPU)
            pytest.skip(f"{entry.name} is not installed: {entry.install_hint}")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "agora", "experiment", str(spec), "--items", "1", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ETA" in proc.stderr and "| accuracy % |" in proc.stdout
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert rows and all(r["status"] == "completed" for r in rows)
    assert all((out / r["transcript"]).is_file() for r in rows)
    summary = (out / "summary.md").read_text()
    assert summary.count("\n| ") >= len(rows)
    if "budget_of" in spec.read_text():  # self-consistency read at the other systems' budgets
        assert "## Self-consistency at the same token budget" in summary and (out / "budget.json").is_file()
    if len({r["pool"] for r in rows}) > 1:
        assert "## Diversity" in summary
    again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and f"0 runs now, {len(rows)} already done" in again.stdout
