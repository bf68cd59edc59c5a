"""Where the shipped persona cards and protocol specs live.

In a source checkout they are the top-level ``personas/`` and ``protocols/`` directories; in an installed wheel they
are copied to ``agora/_builtin/``. Both layouts resolve here.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def builtin_dir(kind: str) -> Path:
    """Return the directory of shipped ``personas`` or ``protocols``."""
    if kind not in ("personas", "protocols"):
        raise ValueError(f"unknown resource kind {kind!r}")
    for candidate in (_PACKAGE / "_builtin" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"agora's shipped {kind} directory is missing from this installation")
