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
    "two_families.py": ["--rounds", "1", "--max-new-tokens", "32"],
}
NEEDS_MODEL = {"quickstart.py", "two_families.py"}
# catalog models an example needs beyond the default one (installed by `make install-dev`)
NEEDS_CATALOG = {"two_families.py": "qwen2.5-coder-0.5b-instruct"}
# what an example's output must show
EXPECT = {"two_families.py": "messages from 2 models: qwen2.5-coder-0.5b-instruct, smollm2-135m-instruct"}


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
