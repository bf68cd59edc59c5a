"""Reading files a contributor or a user hands agora (cards, specs, templates, ballot files, transcripts) without
letting the file decide how much is read: special files (a FIFO that never ends, ``/dev/zero``, a directory) are
refused before any read, and so is a file over its kind's size limit; a file that grows while it is read is cut
off at the limit and refused. Every failure is one :class:`~agora.errors.ConfigError` line naming the file."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from agora.errors import ConfigError


def noun(kind: str) -> str:
    """``kind`` as the name of a file: "ballot file", "protocol spec file" (never "ballot file file")."""
    return kind if kind.endswith(" file") else f"{kind} file"


def check_file(path: Path, limit: int, kind: str) -> int:
    """The size of ``path`` after refusing a missing file, a special file, or one over ``limit`` bytes."""
    name = noun(kind)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"{name} not found", source=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {name}: {exc.strerror}", source=path) from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"expected a {name}, found a directory", source=path)
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{name} is not a regular file (a FIFO, socket or device)", source=path)
    if info.st_size > limit:
        raise ConfigError(f"{name} is {info.st_size:,} bytes, larger than the {limit:,} allowed", source=path)
    return info.st_size


def read_bytes(path: Path, limit: int, kind: str) -> bytes:
    """The bytes of ``path``, checked by :func:`check_file` first and never more than ``limit`` of them."""
    check_file(path, limit, kind)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {noun(kind)}: {exc.strerror}", source=path) from None
    if len(raw) > limit:
        raise ConfigError(
            f"{noun(kind)} grew past the {limit:,} bytes allowed while it was read", source=path
        )
    return raw


def check_out_path(out: Path) -> None:
    """Refuse a transcript path that cannot be written, before any model loads.

    Proved, not guessed from permission bits (which say yes to root everywhere, /proc included): an existing
    ``out`` must be a regular file that opens for appending (nothing is written to it), and the nearest existing
    folder on the way to it must take a new file: one is created there and removed at once.
    """
    if out.is_dir():
        raise ConfigError("--out names a directory; give a file name", source=out, field="--out")
    if out.exists() or out.is_symlink():
        if not out.is_file():
            raise ConfigError(
                "cannot write the transcript: --out names something that is not a regular file",
                source=out,
                field="--out",
            )
        try:
            with out.open("a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"cannot write the transcript: {exc.strerror or exc}", source=out, field="--out"
            ) from None
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(
            f"cannot create the transcript: {str(folder)!r} is a file, not a directory",
            source=out,
            field="--out",
        )
    try:
        handle, probe = tempfile.mkstemp(prefix=".agora-out-check-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the transcript: {str(folder)!r} is not writable ({exc.strerror or exc})",
            source=out,
            field="--out",
        ) from None
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(probe)
