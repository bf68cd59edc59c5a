"""Paired statistics for comparing two systems on the same items: the accuracy difference with a task-stratified
paired bootstrap interval, the exact McNemar test, and Holm's adjustment over several comparisons.

Each item gives one value per system: 1 or 0 (right or wrong), or, where an item ran with several seeds, the share
of its seeds it got right. A comparison of A with B reads only the per-item differences ``d = a - b``:

- ``diff``: the mean of ``d``, which is accuracy A minus accuracy B.
- ``ci``: the percentile interval of ``diff`` over bootstrap resamples. Each resample draws, within each task
  (stratum), as many items as the task has, with replacement; an item brings both systems' values (the pair stays
  together). The task sizes stay fixed, so the interval reflects item sampling and not a changing task mix.
  Strata are taken in sorted order and the items of each in the order given; for each stratum the draws are one
  ``numpy.random.default_rng(seed)`` stream of ``integers(0, size, ...)``, resample by resample, so the interval is
  reproducible from the seed (and does not depend on which other comparisons are made).
- ``mcnemar_p``: the exact McNemar test, a two-sided exact binomial test (``scipy.stats.binomtest``, p = 1/2) on the
  discordant items: of the items where exactly one system is right, how many went to A. It is 1 when no item is
  discordant. With per-item shares (several seeds) the same test counts the items whose shares differ (the exact
  sign test on ``d``), which is McNemar's test when every share is 0 or 1.
- ``holm_p``: Holm's step-down adjustment of the McNemar p-values over the comparisons reported together, which
  keeps the chance of any false rejection among them at the nominal level.

numpy and scipy are imported only when a comparison is computed; :func:`require_scipy` says how to install them.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace

from agora.errors import AgoraError

RESAMPLES = 10_000
LEVEL = 0.95
#: elements drawn per numpy call at most (resamples x stratum size), so memory stays bounded for large files
BLOCK = 1 << 20

INSTALL_HINT = "pip install 'agora[stats]'"


def require_scipy() -> None:
    """Raise a one-line :class:`AgoraError` with the install command when scipy (and numpy) are missing."""
    try:
        import numpy  # noqa: F401
        import scipy.stats  # noqa: F401
    except ImportError:
        raise AgoraError(f"paired statistics need scipy: {INSTALL_HINT}") from None


@dataclass(frozen=True)
class Comparison:
    """System ``a`` against system ``b`` on ``n`` paired items (proportions are fractions in [0, 1])."""

    a: str
    b: str
    n: int
    accuracy_a: float
    accuracy_b: float
    diff: float
    ci: tuple[float, float]
    a_better: int
    b_better: int
    mcnemar_p: float
    holm_p: float | None = None

    def record(self) -> dict[str, object]:
        """The comparison as ``agora stats --json`` prints it."""
        return {
            "a": self.a,
            "b": self.b,
            "n": self.n,
            "diff": self.diff,
            "ci": list(self.ci),
            "mcnemar_p": self.mcnemar_p,
            "holm_p": self.holm_p,
        }


def mcnemar_p(a_better: int, b_better: int) -> float:
    """The exact McNemar p-value: two-sided exact binomial test of ``a_better`` successes in the discordant pairs
    at p = 1/2; 1 when there are none."""
    from scipy.stats import binomtest

    if a_better < 0 or b_better < 0:
        raise ValueError("discordant counts cannot be negative")
    discordant = a_better + b_better
    if discordant == 0:
        return 1.0
    return float(binomtest(a_better, discordant, 0.5).pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the i-th smallest p (i from 1) becomes the largest
    of ``(m - j + 1) * p_(j)`` over j <= i, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _strata(strata: Sequence[Hashable]) -> list[list[int]]:
    """Positions of each stratum's items, strata in sorted order, items in the order given."""
    positions: dict[Hashable, list[int]] = {}
    for i, s in enumerate(strata):
        positions.setdefault(s, []).append(i)
    return [positions[s] for s in sorted(positions, key=str)]


def bootstrap_means(
    diffs: Sequence[float], strata: Sequence[Hashable], resamples: int = RESAMPLES, seed: int = 0
) -> list[float]:
    """The mean of ``diffs`` in each of ``resamples`` task-stratified bootstrap resamples (see the module doc)."""
    import numpy as np

    if len(diffs) != len(strata) or not diffs:
        raise ValueError("need one stratum per difference, and at least one difference")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    d = np.asarray(diffs, dtype=float)
    rng = np.random.default_rng(seed)
    totals = np.zeros(resamples)
    for positions in _strata(strata):
        values = d[positions]
        size = len(values)
        rows = max(1, BLOCK // size)
        for start in range(0, resamples, rows):
            stop = min(resamples, start + rows)
            drawn = rng.integers(0, size, size=(stop - start, size))
            totals[start:stop] += values[drawn].sum(axis=1)
    return list(totals / len(d))


def percentile_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of ``values`` (numpy's default linear interpolation)."""
    import numpy as np

    tail = 100 * (1 - level) / 2
    low, high = np.percentile(np.asarray(values, dtype=float), [tail, 100 - tail])
    return float(low), float(high)


def compare(
    a: Sequence[float],
    b: Sequence[float],
    strata: Sequence[Hashable],
    *,
    names: tuple[str, str] = ("A", "B"),
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Compare two systems' per-item values (aligned: item i of ``a`` is item i of ``b``, in stratum
    ``strata[i]``). ``holm_p`` is left unset: :func:`adjust` sets it over a family of comparisons."""
    if not (len(a) == len(b) == len(strata)) or not a:
        raise ValueError("a, b and strata must be aligned and not empty")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    n = len(diffs)
    a_better = sum(1 for x in diffs if x > 0)
    b_better = sum(1 for x in diffs if x < 0)
    return Comparison(
        a=names[0],
        b=names[1],
        n=n,
        accuracy_a=sum(a) / n,
        accuracy_b=sum(b) / n,
        diff=sum(diffs) / n,
        ci=percentile_interval(bootstrap_means(diffs, strata, resamples, seed)),
        a_better=a_better,
        b_better=b_better,
        mcnemar_p=mcnemar_p(a_better, b_better),
    )


def adjust(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons with ``holm_p`` set: Holm's adjustment over all of them."""
    adjusted = holm([c.mcnemar_p for c in comparisons])
    return [replace(c, holm_p=p) for c, p in zip(comparisons, adjusted, strict=True)]


def format_p(p: float | None) -> str:
    """A p-value for a table: four decimals, or two significant digits below 0.0001."""
    if p is None:
        return "–"
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def points(x: float) -> str:
    """A difference of proportions in percentage points, signed: ``+5.0``."""
    return f"{100 * x:+.1f}"
