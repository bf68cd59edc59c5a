"""The experiment summary's added sections, on made-up result rows: contrasts with paired statistics, trivial
baselines, the emergent rate beside chance, unreadable answers, letters chosen; specs' contrasts and excluded
development items (on a made-up task set, so no task data and no model are needed)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from agora import ScriptedBackend
from agora.errors import ConfigError
from agora.experiment import Sweep, load_spec, run_experiment
from agora.experiment.answers import letter_records, readability_records
from agora.experiment.chance import emergent_chance, moved_share
from agora.experiment.checks import check_sections
from agora.experiment.contrasts import contrast_records, find_system, paired_values
from agora.experiment.metrics import summary_table
from agora.experiment.trivial import baseline_records
from agora.tasks import TaskItem, gold_value, load_task

scipy_stats = pytest.importorskip("scipy.stats")

VOTE = ("vote", "none", "trio")
DEBATE = ("task_debate", "own", "trio")


def row(
    task, item, gold, correct, *, system=VOTE, seed=0, kind="yesno", members=None, extracted=None, **extra
):
    members = members if members is not None else {"x": gold}
    return {
        "config_id": f"{system[0]}-{seed}",
        "task": task,
        "item_id": item,
        "protocol": system[0],
        "graph": system[1],
        "pool": system[2],
        "seed": seed,
        "models": ["m"],
        "kind": kind,
        "gold": gold,
        "extracted": extracted if extracted is not None else (gold if correct else None),
        "correct": correct,
        "member_answers": members,
        "members_correct": {a: v == gold for a, v in members.items()},
        "final_answers": members,
        "status": "completed",
        **extra,
    }


# -- contrasts -----------------------------------------------------------------------------------------------
def test_a_reference_names_exactly_one_system():
    systems = [VOTE, DEBATE, ("task_debate", "ring", "trio"), ("vote", "none", "duo")]
    assert find_system("vote/duo", systems) == ("vote", "none", "duo")
    assert find_system("task_debate/own/trio", systems) == DEBATE
    with pytest.raises(ValueError, match="'vote' names 2 systems .*write PROTOCOL/POOL"):
        find_system("vote", systems)
    with pytest.raises(ValueError, match="'single' names no system of this sweep \\(systems: vote/none/trio"):
        find_system("single", systems)
    with pytest.raises(ValueError, match="names no system"):
        find_system("a/b/c/d", systems)


def test_rows_pair_by_item_and_seed_and_an_item_is_one_unit():
    rows = [
        # item 1: both seeds paired; vote right on both, debate on one -> shares 1.0 and 0.5
        row("t", "1", "yes", True, seed=0),
        row("t", "1", "yes", True, seed=1),
        row("t", "1", "yes", True, system=DEBATE, seed=0),
        row("t", "1", "yes", False, system=DEBATE, seed=1),
        # item 2: only seed 0 ran for the debate -> only seed 0 is paired
        row("t", "2", "no", False, seed=0),
        row("t", "2", "no", True, seed=1),
        row("t", "2", "no", True, system=DEBATE, seed=0),
        # item 3: the debate never ran it -> not paired
        row("t", "3", "no", True, seed=0),
        # another task, another system (ignored)
        row("u", "1", "yes", False, seed=0),
        row("u", "1", "yes", True, system=DEBATE, seed=0),
        row("u", "1", "yes", True, system=("single", "none", "alone"), seed=0),
    ]
    a, b, tasks, seeds = paired_values(rows, DEBATE, VOTE)
    assert (a, b, tasks, seeds) == ([0.5, 1.0, 1.0], [1.0, 0.0, 0.0], ["t", "t", "u"], 2)
    (record,) = contrast_records(rows, [(DEBATE, VOTE)], resamples=200)
    assert record["a"] == "task_debate/own/trio" and record["b"] == "vote/none/trio"
    assert record["n"] == 3 and record["seeds"] == 2  # items, not item-seed rows
    assert record["diff"] == pytest.approx((2.5 - 1.0) / 3)
    assert (record["a_better"], record["b_better"]) == (2, 1)
    assert record["mcnemar_p"] == pytest.approx(scipy_stats.binomtest(2, 3, 0.5).pvalue)


def test_contrasts_with_one_seed_are_mcnemar_and_holm_runs_over_the_contrasts():
    import random

    rng = random.Random(5)
    single = ("single", "none", "alone")
    rows = []
    for i in range(60):
        gold = rng.choice(["yes", "no"])
        for system, p in ((VOTE, 0.5), (DEBATE, 0.65), (single, 0.4)):
            rows.append(
                row("boolq" if i % 2 else "strategy-qa", str(i), gold, rng.random() < p, system=system)
            )
    contrasts = [(DEBATE, VOTE), (DEBATE, single), (VOTE, single)]
    records = contrast_records(rows, contrasts, resamples=300)
    right = {
        s: {(r["task"], r["item_id"]): r["correct"] for r in rows if r["protocol"] == s[0]}
        for s in (VOTE, DEBATE, single)
    }
    for record, (a, b) in zip(records, contrasts, strict=True):
        only_a = sum(1 for k in right[a] if right[a][k] and not right[b][k])
        only_b = sum(1 for k in right[a] if right[b][k] and not right[a][k])
        assert record["n"] == 60 and record["seeds"] == 1
        assert record["mcnemar_p"] == pytest.approx(
            scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
        )
    ps = sorted((r["mcnemar_p"], i) for i, r in enumerate(records))
    holm_by_hand = {}
    running = 0.0
    for rank, (p, i) in enumerate(ps):
        running = max(running, min(1.0, (3 - rank) * p))
        holm_by_hand[i] = running
    assert [r["holm_p"] for r in records] == pytest.approx([holm_by_hand[i] for i in range(3)])


def test_a_contrast_without_paired_items_says_so_and_is_left_out_of_holm():
    rows = [row("t", "1", "yes", True), row("t", "1", "yes", False, system=DEBATE)]
    missing = ("single", "none", "alone")
    records = contrast_records(rows, [(DEBATE, VOTE), (missing, VOTE)], resamples=50)
    assert records[1] == {"a": "single/none/alone", "b": "vote/none/trio", "n": 0, "seeds": 0}
    assert records[0]["holm_p"] == records[0]["mcnemar_p"]  # a family of one
    table = check_sections(rows, options={}, agent_models={}, contrasts=[(missing, VOTE)]).markdown
    assert "| single/none/alone | vote/none/trio | 0 | – |" in table


# -- trivial baselines ---------------------------------------------------------------------------------------
def test_trivial_baselines_count_each_item_once():
    rows = [
        row("b", "1", "yes", True),
        row("b", "1", "yes", True, system=DEBATE),  # the same item again: counted once
        row("b", "2", "no", True),
        row("b", "3", "no", False),
        row("c", "1", "A", True, kind="choice"),
        row("c", "2", "C", True, kind="choice"),
        row("c", "3", "C", True, kind="choice"),
        row("c", "4", "B", True, kind="choice"),
        row("n", "1", "18", True, kind="number"),
        row("n", "2", "7", True, kind="number"),
    ]
    options = {"c/1": 4, "c/2": 4, "c/3": 5, "c/4": 3}
    b, c, n = baseline_records(rows, options)
    assert (b["items"], b["majority_gold"], b["majority_accuracy"]) == (3, ["no"], pytest.approx(2 / 3))
    assert b["always_yes"] == pytest.approx(1 / 3) and b["uniform_guess"] == 0.5
    assert (c["majority_gold"], c["majority_accuracy"], c["always_yes"]) == (["C"], 0.5, None)
    assert c["uniform_guess"] == pytest.approx((1 / 4 + 1 / 4 + 1 / 5 + 1 / 3) / 4)
    assert (n["majority_gold"], n["majority_accuracy"], n["uniform_guess"]) == (["18", "7"], 0.5, None)
    # without the option counts a multiple-choice guess is not made up
    assert baseline_records(rows[4:8], {})[0]["uniform_guess"] is None


# -- the emergent rate and chance ----------------------------------------------------------------------------
def test_chance_when_moved_off_the_members_answers():
    options = {"c/1": 4, "c/2": 4, "c/3": 4}
    yes_no = row("b", "1", "yes", True, members={"x": "no", "y": "no"})
    shared = row("c", "1", "A", True, kind="choice", members={"x": "B", "y": "B"})
    split = row("c", "2", "A", False, kind="choice", members={"x": "B", "y": "C"}, extracted="D")
    unread = row("c", "3", "A", False, kind="choice", members={"x": None, "y": None}, extracted="B")
    number = row("n", "1", "18", True, kind="number", members={"x": "17"})
    assert moved_share(yes_no, options) == 1.0  # leaving the shared wrong yes/no answer is the right answer
    assert moved_share(shared, options) == pytest.approx(1 / 3)  # 1/(k-1)
    assert moved_share(split, options) == pytest.approx(1 / 2)  # two distinct wrong answers: 1/(k-2)
    assert moved_share(unread, options) == pytest.approx(1 / 4)  # no readable answer excluded: 1/k
    assert moved_share(number, options) == 0.0
    stayed = row("c", "1", "A", False, kind="choice", members={"x": "B", "y": "B"}, extracted="B")
    right = row("c", "1", "A", True, kind="choice", members={"x": "A", "y": "B"})  # not all wrong
    found = emergent_chance([yes_no, shared, split, unread, number, stayed, right], options)
    assert found["all_members_wrong"] == 6 and found["emergent"] == 3
    assert found["emergent_rate"] == pytest.approx(3 / 6)
    assert found["guess_rate"] == pytest.approx((1 / 2 + 1 / 4 + 1 / 4 + 1 / 4 + 0 + 1 / 4) / 6)
    assert found["moved"] == 5  # 'stayed' repeated the members' answer
    assert found["right_when_moved"] == pytest.approx(3 / 5)
    assert found["moved_chance"] == pytest.approx((1 + 1 / 3 + 1 / 2 + 1 / 4 + 0) / 5)


def test_no_all_wrong_items_gives_no_rates():
    found = emergent_chance([row("b", "1", "yes", True)], {})
    assert found["all_members_wrong"] == 0 and found["emergent_rate"] is None and found["guess_rate"] is None


# -- answers -------------------------------------------------------------------------------------------------
def test_unreadable_answers_per_model_and_task():
    rows = [
        row("b", "1", "yes", True, members={"x": "yes", "y": None}, final_answers={"x": "yes", "y": "no"}),
        row("b", "2", "no", True, members={"x": None, "y": None}, final_answers={"x": None, "y": "no"}),
        row(
            "b",
            "2",
            "no",
            True,
            system=DEBATE,
            members={"x": "no"},
            final_answers={"x": "no"},
            models=["solo"],
        ),
    ]
    agent_models = {"vote-0": {"x": "small", "y": "large"}}
    records = {(r["task"], r["model"]): r for r in readability_records(rows, agent_models)}
    assert set(records) == {("b", "small"), ("b", "large"), ("b", "solo")}
    small, large = records[("b", "small")], records[("b", "large")]
    assert (small["first_answers"], small["first_unreadable"], small["first_unreadable_rate"]) == (2, 1, 0.5)
    assert (small["final_answers"], small["final_unreadable"]) == (2, 1)
    assert (large["first_unreadable_rate"], large["final_unreadable_rate"]) == (1.0, 0.0)
    assert records[("b", "solo")]["first_unreadable"] == 0


def test_letters_chosen_beside_the_gold_letters():
    rows = [
        row("c", "1", "A", True, kind="choice", members={"x": "A", "y": "A"}),
        row("c", "2", "C", False, kind="choice", members={"x": "A", "y": None}, extracted="A"),
        row("c", "2", "C", False, kind="choice", system=DEBATE, members={"x": "B"}, extracted="E"),
        row("b", "1", "yes", True),  # not multiple choice: left out
    ]
    records = letter_records(rows, {"vote-0": {"x": "m1", "y": "m2"}}, {"c/1": 4, "c/2": 4})
    by = {(r["whose"], r["name"]): r for r in records}
    assert set(by) == {
        ("gold", "gold"),
        ("model", "m1"),
        ("model", "m2"),
        ("model", "m"),  # the debate's config is not in agent_models: the row's one model
        ("system", "vote/none/trio"),
        ("system", "task_debate/own/trio"),
    }
    assert by[("gold", "gold")]["letters"] == {
        "A": 1,
        "B": 0,
        "C": 1,
        "D": 0,
        "E": 0,
    }  # E was chosen: a column
    assert by[("model", "m1")]["letters"]["A"] == 2 and by[("model", "m1")]["n"] == 2
    assert by[("model", "m2")]["unreadable"] == 1 and by[("model", "m2")]["letters"]["A"] == 1
    assert by[("model", "m")]["letters"]["B"] == 1
    assert by[("system", "vote/none/trio")]["letters"]["A"] == 2
    assert by[("system", "task_debate/own/trio")]["letters"]["E"] == 1


def test_sections_come_after_the_unchanged_table():
    rows = [row("c", "1", "A", True, kind="choice"), row("b", "1", "yes", False, members={"x": "no"})]
    checks = check_sections(rows, options={"c/1": 4}, agent_models={}, excluded={"b": 2})
    headings = re.findall(r"^## (.+)$", checks.markdown, flags=re.M)
    assert headings == [
        "Excluded development items",
        "Trivial baselines",
        "Emergent rate and chance",
        "Unreadable answers",
        "Letters chosen",
    ]
    assert "2 items listed under exclude_items (b 2) were neither run nor scored" in checks.markdown
    assert checks.contrasts is None and checks.records["excluded"] == {"b": 2}
    assert summary_table(rows).startswith("| task | protocol | graph | pool | n | accuracy % | 95% CI |")


# -- specs: contrasts and excluded items, on a made-up task set ----------------------------------------------
FAKE = {
    "boolq": [
        TaskItem("boolq", str(i), f"Is {i} even?", "yesno", "yes" if i % 2 == 0 else "no") for i in range(8)
    ],
    "arc-easy": [
        TaskItem("arc-easy", f"a{i}", f"Which letter is {i}?", "choice", i % 4, ("w", "x", "y", "z"))
        for i in range(8)
    ],
}


@pytest.fixture
def fake_tasks(monkeypatch):
    """Two small task sets in place of the packaged data."""
    import agora.tasks

    for name, items in FAKE.items():
        monkeypatch.setitem(agora.tasks._CACHE, name, items)


def oracle(wrong=frozenset()):
    def reply(req):
        if req.phase == "critique":
            return "Critique: fine."
        prompt = req.messages[-1].content
        item = next(i for items in FAKE.values() for i in items if i.prompt() in prompt)
        gold = gold_value(item)
        if req.agent in wrong:
            gold = {"yes": "no", "no": "yes"}.get(gold, "A" if gold != "A" else "B")
        return f"Answer: {gold}."

    return reply


SPEC = """
name: checked
tasks: [{task: boolq, n: 3}, {task: arc-easy, n: 3, seed: 2}]
protocols:
  - {protocol: single, pools: [alone]}
  - {protocol: vote, pools: [trio]}
  - {protocol: task_debate, pools: [trio]}
graphs: [complete, ring]
pools:
  trio: [{persona: empirica}, {persona: hygieia}, {persona: aequitas}]
  alone: [{persona: empirica}]
"""


def write_spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_spec_contrasts_in_both_forms(tmp_path):
    spec = load_spec(
        write_spec(tmp_path, SPEC + "contrasts:\n  - vote: single\n  - [task_debate/ring/trio, vote]\n")
    )
    assert spec.contrasts == [("vote", "single"), ("task_debate/ring/trio", "vote")]
    assert load_spec(write_spec(tmp_path, SPEC)).contrasts == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("contrasts: [[vote]]", "field 'contrasts'.*a contrast is written `A: B` or `\\[A, B\\]`"),
        ("contrasts: [{vote: single, single: vote}]", "a contrast is written"),
        ("contrasts: [vote]", "a contrast is written"),
        ("contrasts: [{vote: vote}]", "field 'contrasts'.*compares 'vote' with itself"),
        ("contrasts: [[vote, single], {vote: single}]", "contrast 2 \\(vote: single\\) is listed twice"),
        ("contrasts: [[vote, [a]]]", "a contrast names two systems"),
        ("contrasts: [{task_debate: vote}]", "field 'contrasts.0'.*'task_debate' names 2 systems"),
        ("contrasts: [{vote: nobody}]", "field 'contrasts.0'.*'nobody' names no system .*single/none/alone"),
        ("contrasts: [{vote/trio: vote/none/trio}]", "field 'contrasts.0'.*name the same system"),
        (
            "contrasts: [{vote: single}, {vote/trio: single/alone}]",
            "field 'contrasts.1'.*repeats an earlier contrast",
        ),
        ("exclude_items: {mmlu: ['1']}", "exclude_items names task 'mmlu', which the spec does not run"),
        (
            "exclude_items: {boolq: ['1', 'nope', 'nada']}",
            "field 'exclude_items.boolq'.*no item 'nope' \\(nor 1 more",
        ),
        ("exclude_items: {boolq: 3}", "field 'exclude_items'.*task 'boolq': expected a list of item ids"),
        ("exclude_items: [1]", "field 'exclude_items'.*expected \\{task: \\[item ids\\]\\}"),
        ("exclude_items: missing.yaml", "missing.yaml: excluded items file not found"),
    ],
)
def test_spec_errors_name_the_file_and_field(tmp_path, fake_tasks, extra, message):
    spec = write_spec(tmp_path, SPEC + extra + "\n")
    with pytest.raises(ConfigError, match=message) as info:
        Sweep(spec, tmp_path / "out", backend=ScriptedBackend(lambda r: "x"))
    assert "spec.yaml" in str(info.value) or "missing.yaml" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_exclusion_file_errors_name_that_file(tmp_path, fake_tasks):
    (tmp_path / "dev.yaml").write_text("boolq: ['1', '99']\n")
    spec = write_spec(tmp_path, SPEC + "exclude_items: dev.yaml\n")
    with pytest.raises(ConfigError, match="dev.yaml: field 'boolq': task 'boolq' has no item '99'"):
        Sweep(spec, tmp_path / "out", backend=ScriptedBackend(lambda r: "x"))
    (tmp_path / "dev.yaml").write_text("boolq: 5\n")
    with pytest.raises(ConfigError, match="dev.yaml: task 'boolq': expected a list of item ids"):
        Sweep(spec, tmp_path / "out", backend=ScriptedBackend(lambda r: "x"))
    (tmp_path / "dev.yaml").write_text("mmlu: ['1']\n")
    with pytest.raises(ConfigError, match="dev.yaml: exclude_items names task 'mmlu'"):
        Sweep(spec, tmp_path / "out", backend=ScriptedBackend(lambda r: "x"))


def test_contrasts_need_scipy_before_anything_runs(tmp_path, fake_tasks, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    spec = write_spec(tmp_path, SPEC + "contrasts: [{vote: single}]\n")
    with pytest.raises(ConfigError, match="field 'contrasts'.*pip install 'agora\\[stats\\]'"):
        Sweep(spec, tmp_path / "out", backend=ScriptedBackend(lambda r: "x"))
    Sweep(
        write_spec(tmp_path, SPEC), tmp_path / "out", backend=ScriptedBackend(lambda r: "x")
    )  # no contrasts


def test_without_exclusions_the_items_are_what_load_task_draws(tmp_path, fake_tasks):
    sweep = Sweep(write_spec(tmp_path, SPEC), tmp_path / "out", backend=ScriptedBackend(lambda r: "x"))
    assert sweep.items == load_task("boolq", 3) + load_task("arc-easy", 3, seed=2)
    assert sweep.excluded == {}


def test_excluded_items_are_replaced_by_the_next_in_the_seeded_order(tmp_path, fake_tasks):
    order = load_task("boolq", 8)
    dev = [order[0].id, order[2].id]
    (tmp_path / "dev.yaml").write_text(f"boolq: {json.dumps(dev)}\n")
    for listed in (f"exclude_items: {{boolq: {json.dumps(dev)}}}", "exclude_items: dev.yaml"):
        sweep = Sweep(
            write_spec(tmp_path, SPEC + listed + "\n"), tmp_path / "out", backend=ScriptedBackend(str)
        )
        boolq = [i for i in sweep.items if i.task == "boolq"]
        assert boolq == [order[1], order[3], order[4]]
        assert sweep.excluded == {"boolq": 2}
    # --items applies to what is left; with n unset every item but the excluded runs
    assert (
        len(
            [
                i
                for i in Sweep(
                    write_spec(tmp_path, SPEC + listed + "\n"), items=5, backend=ScriptedBackend(str)
                ).items
                if i.task == "boolq"
            ]
        )
        == 5
    )
    spec = SPEC.replace("{task: boolq, n: 3}", "boolq") + listed + "\n"
    everything = [
        i for i in Sweep(write_spec(tmp_path, spec), backend=ScriptedBackend(str)).items if i.task == "boolq"
    ]
    assert everything == [i for i in FAKE["boolq"] if i.id not in dev]


def test_a_sweep_reports_contrasts_and_checks_and_keeps_its_table(tmp_path, fake_tasks):
    order = load_task("boolq", 8)
    spec = write_spec(
        tmp_path,
        SPEC
        + "contrasts:\n  - vote: single\n  - [task_debate/complete/trio, task_debate/ring/trio]\n"
        + f"exclude_items: {{boolq: [{order[0].id!r}]}}\n",
    )
    out = tmp_path / "out"
    report = run_experiment(spec, out, backend=ScriptedBackend(oracle({"hygieia", "aequitas"})))
    assert order[0].id not in {r["item_id"] for r in report.rows if r["task"] == "boolq"}
    summary = (out / "summary.md").read_text()
    # what the summary printed before comes first, unchanged
    assert summary_table(report.rows) in summary and summary.index("## Diversity") < summary.index(
        "## Contrasts"
    )
    for heading in (
        "Excluded development items",
        "Contrasts",
        "Trivial baselines",
        "Emergent rate and chance",
        "Unreadable answers",
        "Letters chosen",
    ):
        assert f"\n## {heading}\n" in summary and f"\n## {heading}\n" in report.table
    assert "1 item listed under exclude_items (boolq 1) was neither run nor scored" in summary
    contrasts = json.loads((out / "contrasts.json").read_text())
    vote_single = contrasts[0]
    # empirica alone is always right; the trio's majority (two wrong members) always wrong
    assert (vote_single["a"], vote_single["b"], vote_single["n"]) == (
        "vote/none/trio",
        "single/none/alone",
        6,
    )
    assert (vote_single["accuracy_a"], vote_single["accuracy_b"], vote_single["diff"]) == (0.0, 1.0, -1.0)
    assert vote_single["ci"] == [-1.0, -1.0] and vote_single["b_better"] == 6
    assert vote_single["mcnemar_p"] == pytest.approx(2 / 2**6)
    assert (
        "| vote/none/trio | single/none/alone | 6 | 1 | 0.0 | 100.0 | -100.0 | -100.0 to -100.0 |" in summary
    )
    checks = json.loads((out / "checks.json").read_text())
    assert checks["excluded"] == {"boolq": 1}
    arc = next(r for r in checks["baselines"] if r["task"] == "arc-easy")
    assert arc["uniform_guess"] == 0.25 and arc["items"] == 3
    assert {r["task"] for r in checks["letters"]} == {"arc-easy"}
