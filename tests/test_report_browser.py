"""The HTML report in a real browser (headless Chromium from Debian's package): it loads with no console errors and
its screenshot is not blank. A control page with deliberate errors proves the console check can fail."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from analysis_helpers import debate_transcript
from browser import find_chromium, load_page

from agora.analysis import load
from agora.views.html import render_report

np = pytest.importorskip("numpy")
mpimg = pytest.importorskip("matplotlib.image", reason="the report extra")

CHROMIUM = find_chromium()
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("chromium is not installed (make install-dev installs it)", allow_module_level=True)


def pixels(png: bytes) -> np.ndarray:
    return mpimg.imread(io.BytesIO(png), format="png")[..., :3]


def test_console_check_catches_errors(tmp_path):
    page = tmp_path / "control.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>control</p><img src='missing.png'>"
        "<script>console.error('agora-control'); undefinedFunction();</script></body></html>"
    )
    result = load_page(page)
    texts = " | ".join(text for _, text in result.problems)
    assert "agora-control" in texts
    assert "undefinedFunction" in texts
    assert "missing.png" in texts or "ERR_FILE_NOT_FOUND" in texts


def test_report_loads_cleanly_and_is_not_blank(tmp_path):
    report = tmp_path / "report.html"
    report.write_text(render_report(load(debate_transcript().save(tmp_path / "hand.jsonl"))))
    result = load_page(report)
    assert result.problems == []
    image = pixels(result.screenshot)
    assert image.shape[:2] == (2000, 1200)
    assert image.std() > 0.05  # plots, tables and text: far from one flat colour
    assert (image.min(axis=2) < 0.9).mean() > 0.05  # a good part of the page is not white
    (tmp_path / "report.png").write_bytes(result.screenshot)


def test_experiment_report_loads_cleanly(tmp_path):
    root = tmp_path / "exp"
    (root / "t").mkdir(parents=True)
    debate_transcript().save(root / "t" / "one.jsonl")
    debate_transcript(with_outcome=False).save(root / "t" / "two.jsonl")
    (root / "results.csv").write_text("condition,accuracy\ndebate,0.5\n")
    report = tmp_path / "exp.html"
    report.write_text(render_report(load(root)))
    result = load_page(report)
    assert result.problems == []
    assert pixels(result.screenshot).std() > 0.05


def save_for_review(result, path: Path) -> None:
    path.write_bytes(result.screenshot)
