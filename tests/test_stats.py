"""Paired statistics and ``agora stats``: McNemar against scipy, the bootstrap against a plain loop, Holm by hand,
stratification that matters, and every malformed input refused in one line."""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

np = pytest.importorskip("numpy")
scipy_stats = pytest.importorskip("scipy.stats")

from agora.cli import main  # noqa: E402
from agora.experiment import stats  # noqa: E402
from agora.experiment.paired import read_paired  # noqa: E402
from agora.experiment.stats import bootstrap_means, compare, holm, mcnemar_p, percentile_interval  # noqa: E402
from agora.experiment.stats_command import parse_contrasts, stats_output  # noqa: E402


# -- McNemar -------------------------------------------------------------------------------------------------
def test_mcnemar_known_value_and_no_discordant_pairs():
    # 1 of 10 discordant pairs to A: p = 2 * (C(10,0) + C(10,1)) / 2^10
    assert mcnemar_p(1, 9) == pytest.approx(2 * 11 / 1024, rel=1e-12)
    assert mcnemar_p(9, 1) == pytest.approx(2 * 11 / 1024, rel=1e-12)
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(5, 5) == 1.0


def test_mcnemar_of_a_comparison_is_scipys_binomial_test_on_the_discordant_items():
    rng = random.Random(7)
    for case in range(300):
        n = rng.randint(1, 80)
        pa, pb = rng.random(), rng.random()
        a = [int(rng.random() < pa) for _ in range(n)]
        b = [int(rng.random() < pb) for _ in range(n)]
        c = compare(a, b, ["t"] * n, resamples=20, seed=case)
        only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
        only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
        expected = scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
        assert (c.a_better, c.b_better) == (only_a, only_b)
        assert c.mcnemar_p == pytest.approx(expected, rel=1e-12, abs=0)
        assert c.n == n and c.diff == pytest.approx(sum(a) / n - sum(b) / n)


# -- Holm ----------------------------------------------------------------------------------------------------
def test_holm_by_hand():
    # sorted: 0.005*4 = 0.02; 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> raised to 0.06 (step-down)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.6, 0.7]) == [1.0, 1.0]  # capped at 1
    assert holm([0.2]) == [0.2]
    assert holm([]) == []


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=12))
def test_holm_is_monotone_capped_and_never_below_the_raw_p(ps):
    adjusted = holm(ps)
    m = len(ps)
    for p, q in zip(ps, adjusted, strict=True):
        assert p <= q <= 1.0
        assert q <= min(1.0, m * p) + 1e-15
    for i in range(m):
        for j in range(m):
            if ps[i] <= ps[j]:
                assert adjusted[i] <= adjusted[j]


# -- the bootstrap -------------------------------------------------------------------------------------------
def reference_interval(diffs, strata, resamples, seed):
    """A plain loop over the same random stream: strata in sorted order, for each stratum one resample after
    another, each drawing as many items as the stratum has; the 2.5th and 97.5th percentiles interpolated
    linearly between order statistics."""
    rng = np.random.default_rng(seed)
    groups: dict[str, list[float]] = {}
    for d, s in zip(diffs, strata, strict=True):
        groups.setdefault(s, []).append(d)
    totals = [0.0] * resamples
    for s in sorted(groups):
        values = groups[s]
        for r in range(resamples):
            for i in rng.integers(0, len(values), size=len(values)):
                totals[r] += values[int(i)]
    means = sorted(t / len(diffs) for t in totals)

    def percentile(q):
        h = (resamples - 1) * q
        lo = math.floor(h)
        hi = min(lo + 1, resamples - 1)
        return means[lo] + (h - lo) * (means[hi] - means[lo])

    return percentile(0.025), percentile(0.975)


@pytest.mark.parametrize(
    "block", [stats.BLOCK, 7]
)  # 7: the vectorised draws are split into many small blocks
def test_bootstrap_matches_a_plain_loop_on_the_same_random_stream(monkeypatch, block):
    monkeypatch.setattr(stats, "BLOCK", block)
    rng = random.Random(3)
    for case in range(12):
        n = rng.randint(1, 40)
        strata = [rng.choice(["b", "a", "c"]) for _ in range(n)]
        diffs = [
            rng.choice([-1, 0, 0, 1]) if case % 2 else rng.choice([-1, -0.5, 0, 0.5, 1]) for _ in range(n)
        ]
        resamples = rng.randint(1, 300)
        got = percentile_interval(bootstrap_means(diffs, strata, resamples, seed=case))
        assert got == pytest.approx(reference_interval(diffs, strata, resamples, case), abs=1e-12)


def test_bootstrap_spread_matches_the_stratified_standard_error():
    """Independent check: the bootstrap variance of a stratified mean is sum_s (n_s/n)^2 var_s / n_s (plug-in
    variance within each stratum), and its 95% interval is close to diff +- 1.96 SE."""
    rng = random.Random(11)
    strata = ["x"] * 300 + ["y"] * 500
    a = [int(rng.random() < 0.7) for _ in range(300)] + [int(rng.random() < 0.4) for _ in range(500)]
    b = [int(rng.random() < 0.5) for _ in range(300)] + [int(rng.random() < 0.45) for _ in range(500)]
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    means = np.asarray(bootstrap_means(diffs, strata, 20_000, seed=1))
    n = len(diffs)
    variance = 0.0
    for s in ("x", "y"):
        d = np.asarray([v for v, t in zip(diffs, strata, strict=True) if t == s], dtype=float)
        variance += (len(d) / n) ** 2 * d.var() / len(d)
    se = math.sqrt(variance)
    assert means.std() == pytest.approx(se, rel=0.03)
    diff = sum(diffs) / n
    low, high = percentile_interval(means)
    assert low == pytest.approx(diff - 1.96 * se, abs=0.006)
    assert high == pytest.approx(diff + 1.96 * se, abs=0.006)


def test_the_bootstrap_is_stratified_by_task():
    """A gains 1 on every item of one task and loses 1 on every item of the other. Resampled within tasks, every
    resample has 50 of each: the difference is exactly 0. Pooled, the mix varies and the interval is wide."""
    a = [1] * 50 + [0] * 50
    b = [0] * 50 + [1] * 50
    stratified = compare(a, b, ["x"] * 50 + ["y"] * 50, resamples=2000)
    pooled = compare(a, b, ["all"] * 100, resamples=2000)
    assert stratified.diff == pooled.diff == 0.0
    assert stratified.ci == (0.0, 0.0)
    assert pooled.ci[0] < -0.1 and pooled.ci[1] > 0.1


def test_the_resamples_are_fixed_by_the_seed():
    diffs = [1, 0, -1, 1, 0, 1, 0, 1] * 5
    s = ["t", "u"] * 20
    assert bootstrap_means(diffs, s, 500, seed=4) == bootstrap_means(diffs, s, 500, seed=4)
    assert bootstrap_means(diffs, s, 500, seed=4) != bootstrap_means(diffs, s, 500, seed=5)


def test_bootstrap_of_1000_items_is_fast():
    rng = random.Random(0)
    diffs = [rng.choice([-1, 0, 0, 1]) for _ in range(1000)]
    strata = [rng.choice(["p", "q", "r"]) for _ in range(1000)]
    bootstrap_means(diffs, strata, 100, seed=0)  # warm up numpy
    start = time.perf_counter()
    percentile_interval(bootstrap_means(diffs, strata, 10_000, seed=0))
    assert time.perf_counter() - start < 3.0  # about 0.1 s on two busy cores; the bound only catches a loop


# -- the file and the command --------------------------------------------------------------------------------
CSV = """item,task,debate,vote,single
q1,boolq,1,0,1
q2,boolq,0,0,1
q3,boolq,1,1,0
q4,boolq,1,0,0
a1,arc,0,1,0
a2,arc,1,1,1
a3,arc,1,0,1
"""


def write(tmp_path: Path, text: str, name: str = "paired.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def as_jsonl(text: str) -> str:
    lines = text.strip().splitlines()
    header = lines[0].split(",")
    out = []
    for line in lines[1:]:
        cells = line.split(",")
        out.append(
            json.dumps(
                {h: (c if h in ("item", "task") else int(c)) for h, c in zip(header, cells, strict=True)}
            )
        )
    return "\n".join(out) + "\n"


def run_ok(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def run_error(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "", "an error printed part of a result"
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("agora: error: "), captured.err
    return lines[0]


def test_read_paired_sorts_items_and_keeps_pairs(tmp_path):
    paired = read_paired(write(tmp_path, CSV))
    assert paired.systems == ["debate", "vote", "single"]
    assert paired.items[0] == ("arc", "a1") and paired.items[-1] == ("boolq", "q4")
    assert paired.values["debate"] == [0, 1, 1, 1, 0, 1, 1]
    assert paired.values["vote"] == [1, 1, 0, 0, 0, 1, 0]


def test_json_output_has_exactly_the_documented_keys_and_right_numbers(tmp_path, capsys):
    path = write(tmp_path, CSV)
    records = json.loads(run_ok(capsys, ["stats", str(path), "--json", "--resamples", "500"]))
    assert [(r["a"], r["b"]) for r in records] == [
        ("debate", "vote"),
        ("debate", "single"),
        ("vote", "single"),
    ]
    for r in records:
        assert set(r) == {"a", "b", "n", "diff", "ci", "mcnemar_p", "holm_p"}
        assert r["n"] == 7 and len(r["ci"]) == 2 and r["ci"][0] <= r["diff"] <= r["ci"][1]
    first = records[0]
    assert first["diff"] == pytest.approx(5 / 7 - 3 / 7)
    # debate right and vote wrong on q1, q4, a3; the reverse on a1
    assert first["mcnemar_p"] == pytest.approx(scipy_stats.binomtest(3, 4, 0.5).pvalue)
    assert [r["holm_p"] for r in records] == pytest.approx(holm([r["mcnemar_p"] for r in records]))


def test_text_output_states_its_meaning_and_one_line_per_contrast(tmp_path, capsys):
    path = write(tmp_path, CSV)
    out = run_ok(
        capsys, ["stats", str(path), "--contrast", "vote:debate", "--resamples", "200", "--seed", "3"]
    )
    lines = out.splitlines()
    assert "3 systems on 7 items (2 tasks: arc 3, boolq 4)" in lines[0]
    assert "bootstrap" in lines[1] and "within each task" in lines[1] and "200 resamples, seed 3" in lines[1]
    assert "McNemar" in lines[1] and "Holm" in lines[1]
    assert lines[3].split()[:3] == ["A", "B", "n"]
    assert len(lines) == 5 and lines[4].split()[:6] == ["vote", "debate", "7", "42.9", "71.4", "-28.6"]


def test_row_order_and_file_format_do_not_change_the_result(tmp_path, capsys):
    lines = CSV.strip().splitlines()
    shuffled = "\n".join([lines[0], *random.Random(1).sample(lines[1:], len(lines) - 1)]) + "\n"
    outputs = {
        run_ok(capsys, ["stats", str(path), "--json", "--resamples", "300"])
        for path in (
            write(tmp_path, CSV, "a.csv"),
            write(tmp_path, shuffled, "b.csv"),
            write(tmp_path, as_jsonl(CSV), "c.jsonl"),
            write(tmp_path, as_jsonl(CSV), "d.txt"),  # no known suffix: sniffed as JSON Lines
        )
    }
    assert len(outputs) == 1


def test_contrast_names_are_checked():
    systems = ["debate", "vote", "a:b", "a"]
    assert parse_contrasts(None, systems[:2]) == [("debate", "vote")]
    assert parse_contrasts(["vote:debate"], systems) == [("vote", "debate")]
    assert parse_contrasts(["a:b:vote"], systems) == [("a:b", "vote")]
    assert parse_contrasts(["a:a:b"], systems) == [("a", "a:b")]


BAD_FILES = [
    ("item,debate,vote\nq1,1,0\n", "line 1: missing column 'task'"),
    ("task,debate,vote\nboolq,1,0\n", "line 1: missing column 'item'"),
    ("item,task,debate,vote\nq1,boolq,1,2\n", "line 2, column 'vote': '2' is not 0 or 1"),
    (
        "item,task,debate,vote\nq1,boolq,1,0\nq2,boolq,,1\n",
        "line 3, column 'debate': an empty value is not 0 or 1",
    ),
    ("item,task,debate,vote\nq1,boolq,1,yes\n", "line 2, column 'vote': 'yes' is not 0 or 1"),
    (
        "item,task,debate,vote\nq1,boolq,1,0\nq2,boolq,1,1\nq1,boolq,0,0\n",
        "line 4, column 'item': item 'q1' of task 'boolq' appears twice \\(lines 2 and 4\\)",
    ),
    (
        "item,task,debate\nq1,boolq,1\n",
        "line 1: 1 system column \\('debate'\\); a comparison needs at least 2",
    ),
    ("item,task\nq1,boolq\n", "line 1: no system columns"),
    ("item,task,debate,debate\nq1,boolq,1,0\n", "line 1: column 'debate' appears twice"),
    ("item,task,debate,vote\nq1,boolq,1\n", "line 2: 3 fields, the header has 4"),
    ("item,task,debate,vote\n", "no rows below its header"),
    ("", "no header line"),
    ("item,task,debate,vote\n,boolq,1,0\n", "line 2, column 'item': the item is empty"),
    ("item,task,a,b\nq1,boolq,1,0\n\nq2,boolq,1,1\nq3,boolq,1,x\n", "line 5, column 'b': 'x' is not 0 or 1"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_malformed_csv_is_one_line_naming_file_line_and_column(tmp_path, capsys, text, message):
    path = write(tmp_path, text)
    line = run_error(capsys, ["stats", str(path)])
    assert str(path) in line
    assert __import__("re").search(message, line), line


BAD_JSONL = [
    (
        '{"item": "q1", "task": "t", "a": 1, "b": 0}\n{"item": "q2", "task": "t", "a": 1}\n',
        "line 2: missing column 'b'",
    ),
    (
        '{"item": "q1", "task": "t", "a": 1, "b": 0}\n{"item": "q2", "task": "t", "a": 1, "b": 1, "c": 0}\n',
        "line 2: column 'c' is not in the first line",
    ),
    ('{"item": "q1", "task": "t", "a": 1, "b": 0}\nnot json\n', "line 2 is not a JSON object"),
    ('{"item": "q1", "task": "t", "a": 1, "b": null}\n', "line 1, column 'b': null is not 0 or 1"),
    ('{"item": "q1", "task": "t", "a": 1, "b": 0.5}\n', "line 1, column 'b': 0.5 is not 0 or 1"),
    (
        '{"item": "q1", "task": "t", "a": 1, "b": "1"}\n{"item": "q1", "task": "t", "a": 0, "b": 0}\n',
        "appears twice",
    ),
    ('{"item": "q1", "a": 1, "b": 0}\n', "line 1: missing column 'task'"),
    ('{"item": "q1", "task": "t", "a": 1}\n', "1 system column"),
    (
        '{"item": [1], "task": "t", "a": 1, "b": 0}\n',
        "line 1, column 'item': the item is \\[1\\]; expected text",
    ),
    ("\n\n", "the file has no rows"),
]


@pytest.mark.parametrize(("text", "message"), BAD_JSONL)
def test_malformed_jsonl_is_one_line_naming_file_line_and_column(tmp_path, capsys, text, message):
    path = write(tmp_path, text, "paired.jsonl")
    line = run_error(capsys, ["stats", str(path)])
    assert str(path) in line
    assert __import__("re").search(message, line), line


def test_the_same_item_id_in_two_tasks_is_two_items(tmp_path, capsys):
    path = write(tmp_path, "item,task,a,b\n1,x,1,0\n1,y,0,0\n")
    assert json.loads(run_ok(capsys, ["stats", str(path), "--json", "--resamples", "50"]))[0]["n"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--contrast", "debate:nobody"],
            "field '--contrast': unknown system 'nobody' in 'debate:nobody' "
            "\\(systems: debate, vote, single\\)",
        ),
        (["--contrast", "debatevote"], "'debatevote' is not A:B \\(systems: debate, vote, single\\)"),
        (["--contrast", "vote:vote"], "compares a system with itself"),
        (["--contrast", "vote:debate", "--contrast", "vote:debate"], "is named twice"),
        (["--resamples", "0"], "--resamples must be at least 1"),
        (["--seed", "-1"], "--seed must be a non-negative integer"),
    ],
)
def test_bad_options_are_one_line(tmp_path, capsys, argv, message):
    path = write(tmp_path, CSV)
    line = run_error(capsys, ["stats", str(path), *argv])
    assert __import__("re").search(message, line), line


def test_a_missing_file_is_one_line(tmp_path, capsys):
    line = run_error(capsys, ["stats", str(tmp_path / "nothing.csv")])
    assert "nothing.csv: file not found" in line


def test_without_scipy_the_command_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    line = run_error(capsys, ["stats", str(write(tmp_path, CSV))])
    assert "pip install 'agora[stats]'" in line


def test_stats_output_is_computed_before_anything_is_printed(tmp_path):
    # the function returns the whole text; a bad contrast raises before any of it exists
    path = write(tmp_path, CSV)
    with pytest.raises(Exception, match="unknown system"):
        stats_output(path, ["debate:x"])
