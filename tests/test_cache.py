"""The safetensors cache: filled once, atomically, even when two processes fill it at the same moment."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from agora.backends import cache

SHA = "ab" * 32


def slow_build(target: Path, marker: str, barrier) -> None:
    """Write a fake model directory piece by piece, after every builder has started."""
    barrier.wait(timeout=30)
    (target / "config.json").write_text(json.dumps({"writer": marker}))
    with (target / "model.safetensors").open("wb") as fh:
        for _ in range(64):
            fh.write(marker.encode() * 4096)
            fh.flush()


def fill(root: str, marker: str, barrier, results) -> None:
    os.environ["AGORA_CACHE_DIR"] = root
    final = cache.publish(lambda target: slow_build(target, marker, barrier), SHA)
    results.put((marker, str(final)))


def test_two_processes_filling_the_cache_at_once_leave_one_complete_entry(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=fill, args=(str(tmp_path), m, barrier, results)) for m in ("p1", "p2")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    finals = {results.get(timeout=5)[1] for _ in workers}
    assert len(finals) == 1  # both were handed the same directory
    final = Path(finals.pop())
    assert cache.is_complete(final)
    writer = json.loads(final.joinpath("config.json").read_text())["writer"]
    data = final.joinpath("model.safetensors").read_bytes()
    assert data == (writer.encode() * 4096) * 64  # one writer's file, whole, never a mix
    leftovers = [p.name for p in final.parent.iterdir() if p != final]
    assert leftovers == []  # the loser's temporary directory is gone


def test_a_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path))

    def broken(target: Path) -> None:
        (target / "config.json").write_text("{}")
        raise RuntimeError("conversion died")

    with pytest.raises(RuntimeError):
        cache.publish(broken, SHA)
    assert not cache.converted_dir(SHA).exists()
    assert list((tmp_path / "models").iterdir()) == []


def test_cache_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "here"))
    assert cache.cache_root() == tmp_path / "here"
    monkeypatch.delenv("AGORA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert cache.cache_root() == tmp_path / "xdg" / "agora"


def test_file_hash_is_remembered_and_renewed_when_the_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "weights.bin"
    f.write_bytes(b"one")
    first = cache.file_sha256(f)
    assert cache.file_sha256(f) == first
    f.write_bytes(b"two!")
    assert cache.file_sha256(f) != first


@pytest.mark.slow
def test_two_processes_converting_the_real_model_at_once_share_one_good_entry(tmp_path):
    import subprocess
    import sys

    script = (
        "from agora.backends.transformers.backend import TransformersBackend\n"
        "from agora.backends.base import ChatMessage, GenerationRequest\n"
        "b = TransformersBackend('smollm2-135m-instruct')\n"
        "r = GenerationRequest(messages=(ChatMessage('user', 'Name a colour.'),), max_new_tokens=8)\n"
        "print(b.generate_sync([r])[0].text)\n"
    )
    env = {**os.environ, "AGORA_CACHE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-2000:]
    texts = {out.strip() for out, _ in outputs}
    assert len(texts) == 1 and texts.pop()
    entries = list((tmp_path / "models").iterdir())
    assert len(entries) == 1 and cache.is_complete(entries[0])
    # a third process now loads from the finished entry without converting again
    third = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert third.returncode == 0 and "converting" not in third.stderr
    assert third.stdout.strip() == outputs[0][0].strip()
