"""Do agora's ballots carry signal? Each ballot method, on each catalog model, voting on real questions with known
answers.

    python benchmarks/bench_ballots.py                                   # the default model, every method, 240 items
    python benchmarks/bench_ballots.py --models all --methods scored-list,scored-endorse
    python benchmarks/bench_ballots.py --items 30 --batch 1              # a quick look, one ballot at a time

Items come from the packaged task sets (``--tasks``, default ARC-Easy and CommonsenseQA multiple choice and BoolQ
yes/no; ``--items`` split evenly among them, drawn by ``--seed``). Each item's options become the ballot's
candidates (a yes/no item's are "Yes" and "No") and its question (with its passage, for BoolQ) the debate's
question. One neutral voter persona on the model casts its ballot through the vote phase exactly as a debate does:
:func:`agora.run.kinds.vote.cast_ballots` on a :class:`~agora.run.context.RunContext` built from the shipped
``debate`` protocol (its system prompt) with its vote phase set to the method's ballot and template:

- ``generated``: ``debate/vote.j2`` lists the options and asks for a ranking, which is parsed;
- ``approval``: ``debate/approve.j2`` lists them and asks for the letters of every acceptable answer;
- ``scored-list``: ``ballot: scored`` with ``debate/vote.j2``: the model's likelihood of each option as its reply,
  averaged over every rotation of the options' order in the prompt;
- ``scored-endorse``: ``ballot: scored`` with ``debate/endorse.j2``, which shows the bare question, scored once.

Each item gets its own run seed (derived from ``--seed`` and the item), so the order the voter sees the options in
is shuffled afresh per item, as it is per voter in a debate.

What is counted, per model and method, over all items asked (an abstention is never right):

- ``right first``: the right candidate ranked first **alone**, with a Wilson 95% interval;
- ``tied``: the right candidate tied for first with others (approval ballots that approve several answers);
  ``with ties`` counts a k-way tie for first as 1/k (what a random tie-break would give);
- ``chance``: the mean over the items of 1 / number of options (what a voter choosing at random gets);
- ``abstain``: ballots that count for nothing (unreadable, a copy of the options, a failed call);
- ``s/item``: wall time per ballot with ``--batch`` items voting at once (the model loaded beforehand), and the
  median number of prompts that reached the model in one batch.

A method carries signal on a model when the lower bound of its interval lies above chance. The table ends with the
command that made it; ``--out FILE`` writes every ballot (labels shown, raw reply, ranking, utilities) as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as agora does; must precede the torch import

import networkx as nx

from agora.aggregation.candidates import Candidate
from agora.backends.base import Backend, Generation, GenerationRequest, ScoreRequest, Scores
from agora.experiment.metrics import wilson
from agora.persona import Persona
from agora.protocol.loader import Protocol, load_protocol
from agora.protocol.spec import ProtocolSpec
from agora.run.context import RunContext
from agora.run.kinds.vote import cast_ballots
from agora.run.seeds import derive_seed
from agora.run.state import RoundState
from agora.tasks import load_task
from agora.tasks.items import TaskItem

DEFAULT_MODEL = "smollm2-135m-instruct"
DEFAULT_TASKS = ("arc-easy", "commonsense-qa", "boolq")
#: the voter: no stake in any answer, only in getting it right
VOTER = "voter"
VOTER_VALUES = {"accuracy": 1.0}
VOTER_DESCRIPTION = "You weigh every answer on its merits and care only whether it is right."
#: new tokens for a written ballot (what the debate protocol's vote phase has always allowed)
WRITTEN_BALLOT_TOKENS = 16


@dataclass(frozen=True)
class Method:
    """One way to ask for a ballot: the vote phase's ``ballot`` and template."""

    name: str
    ballot: str
    template: str
    summary: str


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("generated", "generated", "debate/vote.j2", "written ranking of the listed options"),
        Method("approval", "approval", "debate/approve.j2", "written approvals of the listed options"),
        Method("scored-list", "scored", "debate/vote.j2", "likelihoods, options listed, every rotation"),
        Method("scored-endorse", "scored", "debate/endorse.j2", "likelihoods, bare question"),
    )
}


@dataclass(frozen=True)
class BenchItem:
    """One question put to the vote: its options (the candidates) and which is right."""

    key: str
    task: str
    question: str
    options: tuple[str, ...]
    gold: int

    @property
    def candidates(self) -> list[Candidate]:
        return [Candidate(f"o{i}", text, (f"o{i}",)) for i, text in enumerate(self.options)]

    @property
    def gold_id(self) -> str:
        return f"o{self.gold}"


def bench_item(item: TaskItem) -> BenchItem:
    """A task item as a vote: multiple-choice options as they are, a yes/no question's as "Yes" and "No"; the
    question with its passage (if any) but without the lettered options, which the ballot shows itself."""
    question = item.question.strip()
    if item.context:
        question = f"{item.context.strip()}\n{question}"
    if item.kind == "choice":
        assert isinstance(item.gold, int)
        return BenchItem(item.key, item.task, question, tuple(c.strip() for c in item.choices), item.gold)
    if item.kind == "yesno":
        return BenchItem(item.key, item.task, question, ("Yes", "No"), 0 if item.gold == "yes" else 1)
    raise ValueError(f"{item.key}: a {item.kind} item has no options to vote on")


def load_items(n: int, seed: int, tasks: Sequence[str] = DEFAULT_TASKS) -> list[BenchItem]:
    """``n`` items split evenly among ``tasks`` (the first tasks take the remainder), each task's drawn by
    ``seed``. A yes/no task's items alternate between "yes" and "no" answers, so that a voter that always says
    the same (BoolQ's answer is "yes" 62% of the time) scores exactly chance. Items whose options repeat or are
    empty are skipped (a ballot cannot tell them apart)."""
    out: list[BenchItem] = []
    for k, task in enumerate(tasks):
        want = n // len(tasks) + (1 if k < n % len(tasks) else 0)
        if want == 0:
            continue
        pool = load_task(task, n=want * 4 + 20, seed=seed)
        usable = [
            b for b in map(bench_item, pool) if all(b.options) and len(set(b.options)) == len(b.options)
        ]
        if pool[0].kind == "yesno":
            by_gold = [[b for b in usable if b.gold == g] for g in (0, 1)]
            usable = [b for pair in zip(*by_gold, strict=False) for b in pair]  # as many of each
        if len(usable) < want:
            raise ValueError(f"{task}: only {len(usable)} usable items of the {want} asked for")
        out.extend(usable[:want])
    return out


def vote_protocol(method: Method, base: str = "debate") -> Protocol:
    """The shipped ``base`` protocol with its vote phase asking for ``method``'s ballot (its system prompt, its
    other phases and its templates unchanged)."""
    shipped = load_protocol(base)
    data = shipped.spec.model_dump()
    phases = []
    for phase in data["phases"]:
        if phase["kind"] == "vote":
            written = method.ballot in ("generated", "approval")
            phase = {
                **phase,
                "ballot": method.ballot,
                "template": method.template,
                "max_new_tokens": WRITTEN_BALLOT_TOKENS if written else None,
            }
        phases.append(phase)
    spec = ProtocolSpec.model_validate({**data, "phases": phases})
    return Protocol(spec, shipped.directory, shipped.source)


class Counting(Backend):
    """Passes every call to ``inner`` and keeps the batch size each reply reports (how many prompts reached the
    model together)."""

    def __init__(self, inner: Backend):
        self.inner = inner
        self.name = inner.name
        self.batches: list[int] = []

    async def generate(self, request: GenerationRequest) -> Generation:
        gen = await self.inner.generate(request)
        self.batches.append(gen.batch_size)
        return gen

    async def score(self, request: ScoreRequest) -> Scores:
        scores = await self.inner.score(request)
        self.batches.append(scores.batch_size)
        return scores

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    async def warm_up(self) -> None:
        await self.inner.warm_up()


@dataclass
class Vote:
    """One ballot on one item, judged against the item's answer."""

    model: str
    method: str
    item: str
    task: str
    options: int
    gold: str
    labels: dict[str, str]
    ranking: list[list[str]]
    raw: str
    parse: str
    error: str | None
    utilities: dict[str, float] | None
    #: the right candidate alone first
    right: bool
    #: k when the right candidate is tied first with k - 1 others, else 0
    tied: int
    notes: list[str] = field(default_factory=list)

    @property
    def abstained(self) -> bool:
        return not self.ranking

    @property
    def credit(self) -> float:
        """1 when right alone first, 1/k when tied first with k - 1 others, else 0."""
        return 1.0 if self.right else (1.0 / self.tied if self.tied else 0.0)


def voter(model: str) -> Persona:
    return Persona(name=VOTER, model=model, values=VOTER_VALUES, description=VOTER_DESCRIPTION)


async def cast(
    protocol: Protocol, persona: Persona, backend: Backend, item: BenchItem, seed: int, method: str
) -> Vote:
    """The voter's ballot on ``item``, cast as a debate's vote phase casts it."""
    graph = nx.DiGraph()
    graph.add_node(persona.name)
    run = RunContext([persona], protocol, graph, {persona.name: backend}, derive_seed(seed, item.key))
    state = RoundState(question=item.question, round=protocol.spec.rounds)
    phase = next(p for p in protocol.spec.phases if p.kind == "vote")
    (ballot,) = await cast_ballots(run, state, phase, item.candidates)
    first = ballot.ranking[0] if ballot.ranking else []
    gold = item.gold_id
    return Vote(
        model=persona.model,
        method=method,
        item=item.key,
        task=item.task,
        options=len(item.options),
        gold=gold,
        labels=ballot.labels,
        ranking=ballot.ranking,
        raw=ballot.raw,
        parse=ballot.parse,
        error=ballot.error,
        utilities=ballot.utilities,
        right=first == [gold],
        tied=len(first) if gold in first and len(first) > 1 else 0,
        notes=list(ballot.notes),
    )


@dataclass
class Summary:
    """One row of the table."""

    model: str
    method: str
    n: int
    right: int
    low: float
    high: float
    chance: float
    tied: int
    with_ties: float
    abstained: int
    seconds: float
    median_batch: float

    @property
    def accuracy(self) -> float:
        return self.right / self.n if self.n else 0.0

    @property
    def beats_chance(self) -> bool:
        return self.low > self.chance


def summarise(votes: Sequence[Vote], seconds: float = 0.0, batches: Sequence[int] = ()) -> Summary:
    """The accounting of one model and method: right alone first with its Wilson interval, ties, chance,
    abstentions, time."""
    n = len(votes)
    right = sum(v.right for v in votes)
    low, high = wilson(right, n)
    return Summary(
        model=votes[0].model if votes else "",
        method=votes[0].method if votes else "",
        n=n,
        right=right,
        low=low,
        high=high,
        chance=sum(1 / v.options for v in votes) / n if n else 0.0,
        tied=sum(bool(v.tied) for v in votes),
        with_ties=sum(v.credit for v in votes) / n if n else 0.0,
        abstained=sum(v.abstained for v in votes),
        seconds=seconds,
        median_batch=statistics.median(batches) if batches else 0.0,
    )


async def run_method(
    model: str, method: Method, items: Sequence[BenchItem], backend: Backend, seed: int, batch: int
) -> tuple[list[Vote], float, list[int]]:
    """Every item's ballot by ``method`` on ``backend``, ``batch`` items voting at once (as ``batch`` voters of a
    debate would): the votes, the wall time, and the size of each batch that reached the model."""
    counting = Counting(backend)
    protocol = vote_protocol(method)
    persona = voter(model)
    votes: list[Vote] = []
    start = time.perf_counter()
    for i in range(0, len(items), batch):
        chunk = items[i : i + batch]
        votes.extend(
            await asyncio.gather(*(cast(protocol, persona, counting, it, seed, method.name) for it in chunk))
        )
    return votes, time.perf_counter() - start, counting.batches


def model_backend(model: str) -> Backend:
    from agora.backends.registry import resolve_backend

    return resolve_backend(voter(model))


def installed_models() -> list[str]:
    """The catalog models whose packages are installed here."""
    from agora.backends.catalog import CATALOG, status

    return [name for name, entry in CATALOG.items() if status(entry) != "not installed"]


def fmt_table(rows: Sequence[Summary], timed: bool = True) -> str:
    """The rows as a fixed-width table (``timed``: with the time per item and the median batch)."""
    width = max([14, *(len(r.method) for r in rows)])
    head = (
        f"{'model':<27} {'method':<{width}} {'n':>4} {'right first':>11} {'95% interval':>14} {'chance':>6} "
        f"{'tied':>4} {'w/ ties':>7} {'abstain':>7} {'beats':>5}"
    )
    if timed:
        head += f" {'s/item':>6} {'batch':>5}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = (
            f"{r.model:<27} {r.method:<{width}} {r.n:>4} {r.accuracy:>11.3f} "
            f"{f'[{r.low:.3f}, {r.high:.3f}]':>14} {r.chance:>6.3f} {r.tied:>4} {r.with_ties:>7.3f} "
            f"{r.abstained / r.n if r.n else 0:>7.3f} {'yes' if r.beats_chance else 'no':>5}"
        )
        if timed:
            line += f" {r.seconds / r.n if r.n else 0:>6.2f} {r.median_batch:>5g}"
        lines.append(line)
    return "\n".join(lines)


def by_task(votes: Sequence[Vote]) -> list[Summary]:
    """One row per model, method and task."""
    groups: dict[tuple[str, str, str], list[Vote]] = {}
    for v in votes:
        groups.setdefault((v.model, v.method, v.task), []).append(v)
    rows = []
    for (_, _, task), group in groups.items():
        row = summarise(group)
        row.method = f"{row.method}/{task}"
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", default=DEFAULT_MODEL, help="comma-separated catalog models, or 'all' (installed ones)"
    )
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated: {', '.join(METHODS)}")
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS), help="comma-separated task sets")
    parser.add_argument("--items", type=int, default=240, help="items in all, split evenly among the tasks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=8, help="items voting at once (1: one ballot at a time)")
    parser.add_argument("--by-task", action="store_true", help="also a table per task")
    parser.add_argument("--out", type=Path, help="write every ballot as JSON")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_ballots.py " + shlex.join(sys.argv[1:] if argv is None else list(argv))

    models = installed_models() if args.models == "all" else args.models.split(",")
    methods = [METHODS[m] for m in args.methods.split(",")]
    items = load_items(args.items, args.seed, args.tasks.split(","))
    print(
        f"{len(items)} items: "
        + ", ".join(f"{t} {sum(i.task == t for i in items)}" for t in args.tasks.split(","))
    )

    rows: list[Summary] = []
    votes: list[Vote] = []
    loads: dict[str, float] = {}
    for model in models:
        backend = model_backend(model)
        start = time.perf_counter()
        asyncio.run(backend.warm_up())
        loads[model] = time.perf_counter() - start
        print(f"{model}: loaded in {loads[model]:.1f} s", file=sys.stderr)
        for method in methods:
            got, seconds, batches = asyncio.run(
                run_method(model, method, items, backend, args.seed, args.batch)
            )
            votes.extend(got)
            rows.append(summarise(got, seconds, batches))
            print(fmt_table(rows[-1:]).splitlines()[-1], file=sys.stderr)
            if args.out:
                write(args.out, command, rows, votes, loads)

    print(fmt_table(rows))
    if args.by_task:
        print()
        print(fmt_table(by_task(votes), timed=False))
    print(
        "right first: the right option ranked first alone (w/ ties: a k-way tie for first counts 1/k); "
        "abstentions count as wrong; beats: the interval's lower bound is above chance"
    )
    print(f"command: {command}")
    return 0


def write(
    path: Path, command: str, rows: Sequence[Summary], votes: Sequence[Vote], loads: dict[str, float]
) -> None:
    """The table and every ballot, as JSON."""
    data = {
        "command": command,
        "load_s": loads,
        "summary": [{**asdict(r), "accuracy": r.accuracy, "beats_chance": r.beats_chance} for r in rows],
        "votes": [{**asdict(v), "credit": v.credit, "abstained": v.abstained} for v in votes],
    }
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
