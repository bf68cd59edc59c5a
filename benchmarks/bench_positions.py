"""How well the merging rule tells whether two real answers take the same position: precision and recall.

    python benchmarks/bench_positions.py                 # both splits, with and without the question
    python benchmarks/bench_positions.py --errors dev    # also list the dev split's wrong pairs

The labelled pairs are ``tests/data/position_pairs.jsonl`` (answers written by small models in agora debates,
labelled by hand; the labelling guide is ``tests/data/README.md``). "Positive" is "same position": precision is the
share of the pairs the rule merges that the label says take the same position, recall the share of the labelled
same-position pairs the rule merges. The pairs are split by question into ``dev`` (the rules were tuned on it) and
``held-out`` (never looked at while tuning). Each rule is measured with the debate's question (as debates and the
analysis call it) and without it.

The rule measured is ``agora.same_position`` when the installed agora has it, else the earlier rule
(``agora.aggregation.candidates.same_answer``), so running this file against an older checkout on ``PYTHONPATH``
measures that checkout. The last lines are ``precision_<split>=...`` and ``recall_<split>=...`` (with the question).
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PAIRS = Path(__file__).resolve().parent.parent / "tests" / "data" / "position_pairs.jsonl"
SPLITS = ("dev", "held-out")

Rule = Callable[[str, str, "str | None"], bool]


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool
    question: str
    split: str
    kind: str
    source: str


@dataclass(frozen=True)
class Score:
    n: int
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n if self.n else 1.0


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    """The labelled pairs, in file order."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(
                Pair(
                    row["a"],
                    row["b"],
                    bool(row["same"]),
                    row["question"],
                    row["split"],
                    row["kind"],
                    row["source"],
                )
            )
    return out


def current_rule() -> tuple[str, Rule]:
    """The installed agora's rule: ``same_position`` when it exists, else the earlier ``same_answer``."""
    import agora

    if hasattr(agora, "same_position"):
        return "agora.same_position", lambda a, b, q: agora.same_position(a, b, question=q)
    from agora.aggregation.candidates import same_answer

    if "question" in inspect.signature(same_answer).parameters:
        return "same_answer", lambda a, b, q: same_answer(a, b, question=q)
    return "same_answer (no question)", lambda a, b, q: same_answer(a, b)


def score(pairs: Sequence[Pair], rule: Rule, *, with_question: bool = True) -> Score:
    """Count the rule's answers against the labels (``with_question``: the rule is told the debate's question)."""
    tp = fp = fn = tn = 0
    for p in pairs:
        said = rule(p.a, p.b, p.question if with_question else None)
        tp += said and p.same
        fp += said and not p.same
        fn += (not said) and p.same
        tn += (not said) and not p.same
    return Score(len(pairs), tp, fp, fn, tn)


def wrong(pairs: Sequence[Pair], rule: Rule) -> list[tuple[Pair, bool]]:
    """The pairs the rule gets wrong (with the question), with what it said."""
    return [(p, said) for p in pairs if (said := rule(p.a, p.b, p.question)) != p.same]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--errors", choices=(*SPLITS, "all"), help="list the wrong pairs of this split")
    args = parser.parse_args(argv)
    pairs = load_pairs(args.pairs)
    name, rule = current_rule()
    print(
        f"rule: {name}; pairs: {args.pairs.name} ({len(pairs)}, {sum(p.same for p in pairs)} same position)"
    )
    print("command: python benchmarks/bench_positions.py")
    print(f"{'split':<10} {'question':<9} {'pairs':>5} {'precision':>9} {'recall':>6} {'accuracy':>8}")
    groups = {s: [p for p in pairs if p.split == s] for s in SPLITS} | {"all": pairs}
    final = {}
    for split, group in groups.items():
        for with_question in (True, False):
            s = score(group, rule, with_question=with_question)
            told = "given" if with_question else "none"
            print(f"{split:<10} {told:<9} {s.n:>5} {s.precision:>9.3f} {s.recall:>6.3f} {s.accuracy:>8.3f}")
            if with_question:
                final[split] = s
    kinds = sorted({p.kind for p in pairs})
    print("accuracy by kind (all pairs, question given): " + ", ".join(
        f"{k} {score([p for p in pairs if p.kind == k], rule).accuracy:.2f} (n={sum(p.kind == k for p in pairs)})"
        for k in kinds
    ))  # fmt: skip
    if args.errors:
        chosen = pairs if args.errors == "all" else groups[args.errors]
        for p, said in wrong(chosen, rule):
            print(
                f"\n[{p.kind}] labelled {'same' if p.same else 'different'}, rule says {'same' if said else 'different'}"
            )
            print(f"  Q: {p.question}\n  a: {p.a}\n  b: {p.b}")
    for split in (*SPLITS, "all"):
        print(f"precision_{split}={final[split].precision:.3f}")
        print(f"recall_{split}={final[split].recall:.3f}")


if __name__ == "__main__":
    main()
