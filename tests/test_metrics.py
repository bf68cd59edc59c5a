"""Experiment metrics: Wilson intervals, majority, members alone, the emergent rate, the summary table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agora.experiment.metrics import is_emergent, majority, summarise, summary_table, wilson


def test_wilson_known_values():
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(3.8416 / 13.8416, abs=1e-4)
    assert wilson(10, 10)[1] == 1.0 and wilson(10, 10)[0] == pytest.approx(1 - 3.8416 / 13.8416, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


@given(st.integers(min_value=1, max_value=500), st.data())
def test_wilson_contains_the_estimate(n, data):
    k = data.draw(st.integers(min_value=0, max_value=n))
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    # more data, narrower interval
    lo2, hi2 = wilson(4 * k, 4 * n)
    assert hi2 - lo2 < hi - lo


def test_majority():
    assert majority(["A", "B", "A", None]) == "A"
    assert majority([None, None]) is None
    assert majority(["yes", "no"]) is None
    drawn = {majority(["yes", "no"], seed=s) for s in range(20)}
    assert drawn == {"yes", "no"}
    assert majority(["yes", "no"], seed=3) == majority(["yes", "no"], seed=3)


def row(correct, members, majority_correct=None, **extra):
    return {
        "task": "t",
        "protocol": "p",
        "graph": "g",
        "pool": "x",
        "correct": correct,
        "members_correct": members,
        "majority_correct": majority_correct,
        "status": "completed",
        "completion_tokens": 10,
        "prompt_tokens": 100,
        "wall_s": 1.0,
        **extra,
    }


def test_summarise_members_majority_and_emergent():
    rows = [
        row(True, {"a": False, "b": False}, False),  # emergent
        row(False, {"a": False, "b": False}, False),
        row(True, {"a": True, "b": False}, True),
        row(False, {"a": True, "b": True}, True, status="failed", completion_tokens=30),
    ]
    s = summarise(rows)
    assert (s.n, s.correct, s.accuracy) == (4, 2, 0.5)
    assert s.members == {"a": 0.5, "b": 0.25} and s.best_member == 0.5
    assert s.majority_accuracy == 0.5
    assert (s.all_members_wrong, s.emergent, s.emergent_rate) == (2, 1, 0.5)
    assert s.failed == 1 and s.completion_tokens == 15.0
    assert [is_emergent(r) for r in rows] == [True, False, False, False]


def test_summary_table_lines():
    rows = [row(True, {"a": False}), row(False, {"a": True}, task="u")]
    table = summary_table(rows).splitlines()
    assert table[0].startswith("| task | protocol | graph | pool | n | accuracy % |")
    assert table[2].startswith(
        "| t | p | g | x | 1 | 100.0 | 20.7–100.0 | – | 0.0 | a 0.0 | 1 | 1 (100.0%) |"
    )
    assert table[4].startswith("| all | p | g | x | 2 | 50.0 |")


def test_a_large_pool_is_summarised_by_its_count_and_mean():
    many = {f"s-{i}": i < 3 for i in range(10)}  # 3 of 10 samples right
    table = summary_table([row(True, many, True)])
    assert "10 members, mean 30.0" in table and "s-1 " not in table
    assert "a 100.0, b 0.0" in summary_table([row(True, {"a": True, "b": False}, True)])
