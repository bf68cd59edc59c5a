"""The wheel carries the shipped persona cards and protocols, and an installed copy finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_personas_and_protocols(tmp_path):
    pytest.importorskip("hatchling", reason="hatchling is in the dev extra")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("agora-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for card in (ROOT / "personas").glob("*.yaml"):
        assert f"agora/_builtin/personas/{card.name}" in names
    assert "agora/_builtin/protocols/debate.yaml" in names
    assert "agora/_builtin/protocols/debate/vote.j2" in names
    assert (
        "agora/views/templates/report.html.j2" in names and "agora/views/templates/_outcome.html.j2" in names
    )

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import agora, agora.resources as r;"
        "print(r.builtin_dir('personas'));"
        "print(len(agora.load_personas()), agora.load_protocol('debate').name)"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.split("\n")
    assert str(site) in lines[0] and "_builtin" in lines[0]
    assert lines[1].split() == [str(len(list((ROOT / "personas").glob("*.yaml")))), "debate"]
