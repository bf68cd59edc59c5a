"""Convert GGUF checkpoints once to safetensors, so later loads take about a second instead of half a minute.

The cache lives in ``$AGORA_CACHE_DIR`` if set, else the platform's user cache directory (``~/.cache/agora`` on
Linux, ``~/Library/Caches/agora`` on macOS, ``%LOCALAPPDATA%/agora/Cache`` on Windows). Each entry is keyed by the
sha256 of the source file; it is written into a temporary directory and renamed into place, so two processes
filling the cache at once never leave a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

_HASH_MEMO = "hashes.json"


def cache_root() -> Path:
    env = os.environ.get("AGORA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "agora"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "agora" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agora"


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered by (path, size, mtime) so large files are hashed once."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo_path = cache_root() / _HASH_MEMO
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if isinstance(memo, dict) and isinstance(memo.get(key), str):
        return memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    try:
        memo = memo if isinstance(memo, dict) else {}
        memo[key] = value
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_name(f".{_HASH_MEMO}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, memo_path)
    except OSError:
        pass
    return value


def converted_dir(sha256: str) -> Path:
    return cache_root() / "models" / sha256


def is_complete(directory: Path) -> bool:
    return (directory / "config.json").is_file() and any(directory.glob("*.safetensors"))


def publish(build, sha256: str) -> Path:
    """Return the cached directory for ``sha256``, calling ``build(tmpdir)`` to fill it if it is missing.

    ``build`` writes a complete model directory into the temporary directory it is given; the directory is then
    renamed into place atomically. If another process published first, its copy is kept and ours discarded.
    """
    final = converted_dir(sha256)
    if is_complete(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}.", dir=final.parent))
    try:
        build(tmp)
        (tmp / "agora-source.json").write_text(json.dumps({"sha256": sha256}))
        try:
            os.rename(tmp, final)
        except OSError:
            # Someone else published (the target exists and is not empty): keep theirs if it is complete.
            if not is_complete(final):
                shutil.rmtree(final, ignore_errors=True)
                os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
