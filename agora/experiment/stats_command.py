"""``agora stats FILE``: paired comparisons of the systems in a paired-correctness file, as a table or as JSON.

Every pair of systems is compared (A before B in the file's column order), or only the contrasts named with
``--contrast A:B``; the statistics are :mod:`agora.experiment.stats`, the file format :mod:`agora.experiment.paired`.
Everything is computed before anything is printed, so an error prints nothing else.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

from agora.errors import AgoraError
from agora.experiment.paired import PairedItems, read_paired
from agora.experiment.stats import Comparison, adjust, compare, format_p, points, require_scipy


def parse_contrasts(requested: Sequence[str] | None, systems: Sequence[str]) -> list[tuple[str, str]]:
    """The contrasts to report: each ``A:B`` of ``requested`` (split at the colon that leaves two known systems),
    or every pair of ``systems`` in order."""
    if not requested:
        return list(combinations(systems, 2))
    known = set(systems)
    listed = ", ".join(systems)
    pairs: list[tuple[str, str]] = []
    for text in requested:
        splits = [(text[:i], text[i + 1 :]) for i, ch in enumerate(text) if ch == ":"]
        if not splits:
            raise AgoraError(f"{text!r} is not A:B (systems: {listed})", field="--contrast")
        found = [(a.strip(), b.strip()) for a, b in splits if a.strip() in known and b.strip() in known]
        if len(found) != 1:
            unknown = [s.strip() for s in splits[0] if s.strip() not in known]
            what = f"unknown system {unknown[0]!r}" if found == [] and unknown else "ambiguous contrast"
            raise AgoraError(f"{what} in {text!r} (systems: {listed})", field="--contrast")
        a, b = found[0]
        if a == b:
            raise AgoraError(f"{text!r} compares a system with itself", field="--contrast")
        if (a, b) in pairs:
            raise AgoraError(f"{text!r} is named twice", field="--contrast")
        pairs.append((a, b))
    return pairs


def run_contrasts(
    paired: PairedItems, contrasts: Sequence[tuple[str, str]], *, resamples: int, seed: int
) -> list[Comparison]:
    """Each contrast on every item of the file, stratified by task; Holm-adjusted over all of them."""
    return adjust(
        [
            compare(
                paired.values[a],
                paired.values[b],
                paired.tasks,
                names=(a, b),
                resamples=resamples,
                seed=seed,
            )
            for a, b in contrasts
        ]
    )


def describe(count: int, resamples: int, seed: int) -> str:
    """The line that says what the table means."""
    return (
        f"diff = accuracy A - accuracy B, in points; 95% CI: percentile interval of a paired bootstrap resampling "
        f"items within each task ({resamples} resamples, seed {seed}); McNemar p: exact two-sided binomial test on "
        f"the items exactly one of A and B got right; Holm p: McNemar p adjusted over the {count} "
        f"contrast{'s' if count != 1 else ''} shown."
    )


def text_table(comparisons: Sequence[Comparison]) -> list[str]:
    """The comparisons as aligned plain-text lines (a header, then one line per contrast)."""
    header = ["A", "B", "n", "A %", "B %", "diff", "95% CI", "A only", "B only", "McNemar p", "Holm p"]
    lines = [header]
    for c in comparisons:
        lines.append(
            [
                c.a,
                c.b,
                str(c.n),
                f"{100 * c.accuracy_a:.1f}",
                f"{100 * c.accuracy_b:.1f}",
                points(c.diff),
                f"[{points(c.ci[0])}, {points(c.ci[1])}]",
                str(c.a_better),
                str(c.b_better),
                format_p(c.mcnemar_p),
                format_p(c.holm_p),
            ]
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    left = {0, 1, 6}
    return [
        "  ".join(
            cell.ljust(w) if i in left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in lines
    ]


def stats_output(
    path: str | Path,
    contrasts: Sequence[str] | None = None,
    *,
    resamples: int = 10_000,
    seed: int = 0,
    as_json: bool = False,
) -> str:
    """What ``agora stats`` prints for ``path``: JSON (a list of records) or the meaning line and the table."""
    if resamples < 1:
        raise AgoraError(f"--resamples must be at least 1, got {resamples}", field="--resamples")
    if seed < 0:
        raise AgoraError(f"--seed must be a non-negative integer, got {seed}", field="--seed")
    require_scipy()
    paired = read_paired(path)
    comparisons = run_contrasts(
        paired, parse_contrasts(contrasts, paired.systems), resamples=resamples, seed=seed
    )
    if as_json:
        return json.dumps([c.record() for c in comparisons], indent=2)
    tasks = Counter(paired.tasks)
    per_task = ", ".join(f"{task} {n}" for task, n in sorted(tasks.items()))
    head = (
        f"{path}: {len(paired.systems)} systems on {len(paired.items)} items "
        f"({len(tasks)} task{'s' if len(tasks) != 1 else ''}: {per_task})"
    )
    return "\n".join([head, describe(len(comparisons), resamples, seed), "", *text_table(comparisons)])
