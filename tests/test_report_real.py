"""`agora report` and `agora show` on a real debate of the embedded model (SmolLM2-135M-Instruct). Marked slow."""

from __future__ import annotations

import re
import shutil

import pytest
from browser import find_chromium, load_page

from agora import Debate, load_personas, load_protocol
from agora.analysis import load, summarise
from agora.cli import main

pytestmark = pytest.mark.slow
pytest.importorskip("matplotlib", reason="the report extra")

QUESTION = "What should a city spend an unexpected budget surplus on first?"
AGENTS = ("verdant", "enterprise", "libertas")
SHORT = {"propose": 40, "critique": 32, "revise": 40}


@pytest.fixture(scope="module")
def real_transcript(tmp_path_factory):
    protocol = load_protocol("debate")
    phases = [
        {**p, "max_new_tokens": SHORT.get(p["name"], p["max_new_tokens"])}
        for p in protocol.spec.model_dump()["phases"]
    ]
    protocol = protocol.with_overrides(rounds=2, phases=phases)
    personas = [p for p in load_personas() if p.name in AGENTS]
    out = tmp_path_factory.mktemp("real") / "debate.jsonl"
    Debate(personas, protocol, seed=0).run_sync(QUESTION, out=out)
    return out


def test_report_and_show_on_a_real_debate(real_transcript, tmp_path, capsys):
    (t,) = load(real_transcript).transcripts
    assert t.status == "completed"
    s = summarise(t)
    assert s.positions.labels == ["round 1 · propose", "round 1 · revise", "round 2 · revise"]
    assert all(set(held) == set(AGENTS) for held in s.positions.table)
    assert all(1 / 3 - 1e-9 <= x <= 1.0 for x in s.consensus)
    assert set(s.persuasion.edges) <= {tuple(e) for e in t.header.graph}
    assert all(s.agreement[a][a] == 1.0 for a in AGENTS)
    assert set(s.fidelity) == set(AGENTS) and all(f["messages"] == 5 for f in s.fidelity.values())

    out = tmp_path / "report.html"
    assert main(["report", str(real_transcript), "-o", str(out)]) == 0
    html = out.read_text()
    assert re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', html) == [
        "consensus curve",
        "agreement heatmap",
        "persuasion graph",
    ]
    assert QUESTION in html and "Tallies under each rule" in html
    assert f"<strong>Winner:</strong> {t.outcome.winner}" in html
    for agent in AGENTS:
        assert agent in html

    assert main(["show", str(real_transcript)]) == 0
    shown = capsys.readouterr().out
    assert "Positions by stage:" in shown and "Largest camp:" in shown

    if find_chromium() is not None:
        page = load_page(out)
        assert page.problems == []
        (tmp_path / "report.png").write_bytes(page.screenshot)


def test_report_on_an_experiment_directory_of_real_debates(real_transcript, tmp_path):
    root = tmp_path / "experiment"
    (root / "transcripts").mkdir(parents=True)
    shutil.copy(real_transcript, root / "transcripts" / "q1.jsonl")
    (root / "results.jsonl").write_text('{"condition": "debate", "accuracy": 1.0, "n": 1}\n')
    out = tmp_path / "experiment.html"
    assert main(["report", str(root), "-o", str(out)]) == 0
    html = out.read_text()
    assert "Experiment: 1 debates" in html and "results.jsonl" in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 3
