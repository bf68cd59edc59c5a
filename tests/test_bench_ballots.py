"""The ballot benchmark (``benchmarks/bench_ballots.py``): its accounting on a scripted voter that knows (or does not
know) the answers, and, slow, that the default model's ballots under the default protocol's method beat chance."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from agora.backends import GenerationRequest, ScoreRequest, ScriptedBackend
from agora.experiment.metrics import wilson
from agora.tasks.items import TaskItem

BENCH_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_ballots.py"


def _benchmark():
    """``benchmarks/bench_ballots.py`` as a module."""
    spec = importlib.util.spec_from_file_location("bench_ballots", BENCH_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ballots"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


BENCH = _benchmark()

#: three-option and two-option items with known answers; the right answer always contains "RIGHT"
ITEMS = [
    BENCH.BenchItem(f"t/{i}", "t", f"Question {i}?", opts, gold)
    for i, (opts, gold) in enumerate(
        [
            (("RIGHT one", "wrong two", "wrong three"), 0),
            (("wrong one", "RIGHT two", "wrong three"), 1),
            (("wrong one", "wrong two", "RIGHT three"), 2),
            (("RIGHT yes", "wrong no"), 0),
        ]
    )
]
CHANCE = (1 / 3 * 3 + 1 / 2) / 4
LINE = re.compile(r"^([A-Z])\. (.*)$", re.MULTILINE)


def knows(request: ScoreRequest) -> list[float]:
    """A scorer that gives the right answer the highest likelihood."""
    return [-0.5 if "RIGHT" in c else -3.0 for c in request.continuations]


def ranks_right_first(request: GenerationRequest) -> str:
    """A writer that reads the listed options and ranks the right one first."""
    listed = LINE.findall(request.messages[-1].content)
    right = [lab for lab, text in listed if "RIGHT" in text]
    rest = [lab for lab, text in listed if "RIGHT" not in text]
    return "Ranking: " + ", ".join(right + rest)


def run(method: str, backend: ScriptedBackend, batch: int = 2):
    votes, seconds, batches = asyncio.run(
        BENCH.run_method("scripted", BENCH.METHODS[method], ITEMS, backend, seed=0, batch=batch)
    )
    return BENCH.summarise(votes, seconds, batches), votes


@pytest.mark.parametrize("method", ["scored-list", "scored-endorse"])
def test_a_scorer_that_knows_the_answers_is_always_right(method):
    summary, votes = run(method, ScriptedBackend(scorer=knows))
    assert (summary.n, summary.right, summary.tied, summary.abstained) == (4, 4, 0, 0)
    assert summary.accuracy == 1.0 and summary.with_ties == 1.0
    assert summary.chance == pytest.approx(CHANCE)
    assert (summary.low, summary.high) == wilson(4, 4) and summary.beats_chance
    assert all(v.utilities and max(v.utilities, key=v.utilities.get) == v.gold for v in votes)


def test_the_listing_prompt_is_scored_in_every_rotation_in_one_batch():
    backend = ScriptedBackend(scorer=knows)
    summary, _ = run("scored-list", backend, batch=1)
    # one request per rotation: 3 + 3 + 3 + 2, each listing the options in another order
    assert len(backend.score_requests) == 11
    first = [r.messages[-1].content for r in backend.score_requests[:3]]
    assert len(set(first)) == 3 and all("A. " in p for p in first)
    endorse = ScriptedBackend(scorer=knows)
    run("scored-endorse", endorse, batch=1)
    assert len(endorse.score_requests) == 4  # the bare question: one pass per ballot
    assert all("A. " not in r.messages[-1].content for r in endorse.score_requests)


def test_a_scorer_that_knows_nothing_ties_everything_and_gets_chance():
    summary, votes = run("scored-endorse", ScriptedBackend(scorer=lambda r: [-1.0] * len(r.continuations)))
    assert summary.right == 0 and summary.tied == 4 and summary.abstained == 0
    assert summary.with_ties == pytest.approx(CHANCE)  # a k-way tie for first counts 1/k
    assert [v.tied for v in votes] == [3, 3, 3, 2]
    assert summary.low == 0.0 and not summary.beats_chance


def test_a_written_ranking_is_read_and_judged():
    summary, votes = run("generated", ScriptedBackend(ranks_right_first))
    assert (summary.right, summary.abstained) == (4, 0)
    assert all(v.parse == "ranking-line" for v in votes)
    # the voter saw the options under shuffled labels: the label it named maps back to the right candidate
    assert all(v.labels[v.raw.split()[1].rstrip(",")] == v.gold for v in votes)


def test_copies_of_the_options_and_unreadable_replies_are_abstentions_and_never_right():
    def copies(request: GenerationRequest) -> str:
        return "\n".join(f"{lab}. {text}" for lab, text in LINE.findall(request.messages[-1].content))

    summary, votes = run("generated", ScriptedBackend(copies))
    assert summary.abstained == 4 and summary.right == 0 and summary.with_ties == 0.0
    assert all(v.abstained and v.error for v in votes)
    summary, _ = run("generated", ScriptedBackend(lambda r: "I cannot say."))
    assert summary.abstained == 4 and summary.right == 0


def test_approving_several_answers_is_a_tie_for_first():
    def approves_all(request: GenerationRequest) -> str:
        return "Approve: " + ", ".join(lab for lab, _ in LINE.findall(request.messages[-1].content))

    summary, _ = run("approval", ScriptedBackend(approves_all))
    assert summary.right == 0 and summary.tied == 4
    assert summary.with_ties == pytest.approx(CHANCE)


def test_accounting_of_a_mixed_voter_and_its_interval():
    """Right on half the items, wrong on the rest: accuracy, interval and chance as computed by hand."""
    right_on = {"Question 0?", "Question 3?"}

    def half(request: ScoreRequest) -> list[float]:
        question = request.messages[-1].content
        good = any(q in question for q in right_on)
        return [(-0.5 if ("RIGHT" in c) == good else -3.0) for c in request.continuations]

    summary, _ = run("scored-endorse", ScriptedBackend(scorer=half))
    assert (summary.n, summary.right, summary.abstained) == (4, 2, 0)
    assert summary.accuracy == 0.5
    assert summary.low == pytest.approx(0.1500, abs=1e-4) and summary.high == pytest.approx(0.8500, abs=1e-4)
    assert not summary.beats_chance
    table = BENCH.fmt_table([summary])
    assert "0.500" in table and "[0.150, 0.850]" in table and f"{CHANCE:.3f}" in table


def test_a_failing_backend_abstains():
    summary, votes = run("scored-list", ScriptedBackend())  # no scorer: scoring is unsupported
    assert summary.abstained == 4 and summary.right == 0
    assert all("ScoringUnsupported" in (v.error or "") for v in votes)


def test_task_items_become_votes():
    choice = TaskItem("arc-easy", "1", "Which is a metal?", "choice", 2, ("wood", "glass", "iron"))
    yesno = TaskItem("boolq", "2", "Is iron a metal?", "yesno", "no", context="A passage.")
    a, b = BENCH.bench_item(choice), BENCH.bench_item(yesno)
    assert a.options == ("wood", "glass", "iron") and a.gold_id == "o2" and "wood" not in a.question
    assert b.options == ("Yes", "No") and b.gold_id == "o1" and b.question == "A passage.\nIs iron a metal?"
    with pytest.raises(ValueError):
        BENCH.bench_item(TaskItem("gsm8k", "3", "1 + 1?", "number", "2"))
