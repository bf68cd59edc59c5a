"""Self-consistency read at a matched token budget (agora.experiment.budget), on hand-built rows."""

from __future__ import annotations

from agora.experiment.budget import at_budget, budget_records, budget_table, matched


def sampled(answers, tokens, gold="yes", item="1", seed=0):
    """A self-consistency row: samples NAME-1..NAME-k with their answers and generated tokens."""
    names = [f"s-{i}" for i in range(1, len(answers) + 1)]
    return {
        "task": "t",
        "item_id": item,
        "seed": seed,
        "gold": gold,
        "member_answers": dict(zip(names, answers, strict=True)),
        "member_tokens": dict(zip(names, tokens, strict=True)),
    }


def system(correct, tokens, item="1", seed=0, task="t"):
    return {"task": task, "item_id": item, "seed": seed, "correct": correct, "completion_tokens": tokens}


def test_samples_are_taken_in_order_while_they_fit_the_budget():
    row = sampled(["no", "yes", "yes", "no"], [10, 10, 10, 10])
    b = at_budget(row, 30)
    assert (b.samples, b.tokens, b.answer, b.correct, b.short) == (3, 30, "yes", True, False)
    b = at_budget(row, 29)  # the third sample no longer fits: a 1-1 tie, drawn by a derived seed
    assert (b.samples, b.tokens) == (2, 20) and b.answer in {"yes", "no"}
    assert at_budget(row, 29) == b  # the draw is reproducible


def test_natural_order_puts_sample_2_before_sample_10():
    names = [f"s-{i}" for i in range(1, 11)]
    row = sampled(["no"] * 10, [5] * 10)
    row["member_answers"] = {n: ("yes" if n in ("s-2", "s-3") else "no") for n in reversed(names)}
    row["member_tokens"] = dict.fromkeys(names, 5)
    # s-1, s-2, s-3 (no, yes, yes); in string order it would be s-1, s-10, s-2 (no, no, yes)
    b = at_budget(row, 15)
    assert (b.samples, b.answer, b.correct) == (3, "yes", True)
    assert at_budget(row, 50).answer == "no"  # all ten: eight say no


def test_at_least_one_sample_and_short_when_all_fit():
    row = sampled(["yes", "no"], [50, 50])
    b = at_budget(row, 10)  # the first sample alone is over budget: it is still read
    assert (b.samples, b.tokens, b.answer, b.short) == (1, 50, "yes", False)
    b = at_budget(row, 500)  # every sample fits and the budget is not reached: short
    assert b.samples == 2 and b.short
    assert at_budget(sampled([None, None], [3, 3]), 100).correct is False


def test_matched_pairs_items_and_seeds_and_skips_old_rows():
    sc = [
        sampled(["yes"], [4], item="1"),
        sampled(["no"], [4], item="2"),
        sampled(["yes"], [4], item="1", seed=1),
    ]
    old = {**sampled(["yes"], [4], item="3"), "member_tokens": None}
    pairs = matched([system(True, 8, "1"), system(False, 8, "2"), system(True, 8, "3")], [*sc, old])
    assert [(r["item_id"], b.correct) for r, b in pairs] == [("1", True), ("2", False)]


def test_records_and_table_per_task_then_all():
    pairs = [
        (system(True, 20, task="a"), at_budget(sampled(["no", "no", "yes"], [10, 10, 10]), 20)),
        (system(False, 40, task="b"), at_budget(sampled(["yes", "yes"], [10, 10]), 40)),
    ]
    records = budget_records(pairs, "debate · own · trio", "self_consistency · sampled")
    assert [r["task"] for r in records] == ["a", "b", "all"]
    everything = records[-1]
    assert everything["n"] == 2 and everything["system_accuracy"] == 0.5
    assert everything["budget"] == 30 and everything["samples"] == 2 and everything["short"] == 1
    assert [r["accuracy"] for r in records] == [0.0, 1.0, 0.5]
    table = budget_table(records)
    assert "| all | debate · own · trio | 50.0 | 30 | self_consistency · sampled |" in table
