"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2


# blocks without a scripted backend run the real model
PARAMS = [
    pytest.param(i, marks=() if "ScriptedBackend" in code else pytest.mark.slow, id=f"block{i + 1}")
    for i, code in enumerate(BLOCKS)
]


@pytest.mark.parametrize("index", PARAMS)
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    code = BLOCKS[index]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})
