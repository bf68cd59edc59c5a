"""Contrasts in a sweep's summary: the pairs of systems a spec names under ``contrasts:``, compared item by item
with the paired statistics of :mod:`agora.experiment.stats`.

A *system* is what one line of the summary table reports: a protocol (its label in the spec) on a graph with a
pool, seeds pooled. A contrast names each side as ``PROTOCOL``, ``PROTOCOL/POOL`` or ``PROTOCOL/GRAPH/POOL`` (the
graph as the table shows it: a graph kind, ``own`` or ``none``), and each name must pick out exactly one system.

The two systems' rows are paired by task, item and seed. An item's value for a system is the share of the paired
seeds on which it was right (0 or 1 with one seed; a failed run counts as wrong, as in the accuracy column), and the
comparison is stratified by task. With several seeds the McNemar test becomes the exact sign test on the items whose
shares differ (the same test; see :mod:`agora.experiment.stats`), and the bootstrap resamples items, each with all
its seeds, so repeated seeds of one item are not counted as independent items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agora.errors import AgoraError, ConfigError
from agora.experiment.configs import Configuration
from agora.experiment.stats import RESAMPLES, Comparison, adjust, compare, format_p, points, require_scipy

Row = Mapping[str, Any]
System = tuple[str, str, str]  # protocol, graph, pool


def system_name(system: System) -> str:
    """``PROTOCOL/GRAPH/POOL``: how the contrast tables name a system (also a valid reference to it)."""
    return "/".join(system)


def systems_of(configs: Sequence[Configuration]) -> list[System]:
    """The sweep's systems, in the order of its configurations."""
    return list(dict.fromkeys((c.protocol_name, c.graph, c.pool) for c in configs))


def find_system(reference: str, systems: Sequence[System]) -> System:
    """The one system ``reference`` names; a ``ValueError`` saying why otherwise."""
    parts = reference.split("/")
    if len(parts) == 1:
        found = [s for s in systems if s[0] == parts[0]]
    elif len(parts) == 2:
        found = [s for s in systems if (s[0], s[2]) == tuple(parts)]
    elif len(parts) == 3:
        found = [s for s in systems if s == tuple(parts)]
    else:
        found = []
    if len(found) == 1:
        return found[0]
    listed = ", ".join(system_name(s) for s in systems)
    if not found:
        raise ValueError(f"{reference!r} names no system of this sweep (systems: {listed})")
    raise ValueError(
        f"{reference!r} names {len(found)} systems ({', '.join(system_name(s) for s in found)}); "
        "write PROTOCOL/POOL or PROTOCOL/GRAPH/POOL"
    )


def resolve_contrasts(
    pairs: Sequence[tuple[str, str]], configs: Sequence[Configuration], source: Path
) -> list[tuple[System, System]]:
    """The systems each contrast of a spec names, checked before anything runs (scipy must be installed)."""
    if not pairs:
        return []
    systems = systems_of(configs)
    resolved: list[tuple[System, System]] = []
    for i, (a, b) in enumerate(pairs):
        try:
            pair = (find_system(a, systems), find_system(b, systems))
        except ValueError as exc:
            raise ConfigError(str(exc), source=source, field=f"contrasts.{i}") from None
        if pair[0] == pair[1]:
            raise ConfigError(f"{a!r} and {b!r} name the same system", source=source, field=f"contrasts.{i}")
        if pair in resolved:
            raise ConfigError(f"{a}: {b} repeats an earlier contrast", source=source, field=f"contrasts.{i}")
        resolved.append(pair)
    try:
        require_scipy()
    except AgoraError as exc:
        raise ConfigError(f"contrasts: {exc.detail}", source=source, field="contrasts") from None
    return resolved


def paired_values(
    rows: Sequence[Row], a: System, b: System
) -> tuple[list[float], list[float], list[str], int]:
    """Per item both systems ran (on at least one common seed), sorted by task and item id: A's and B's share of
    right answers over the common seeds, the item's task, and the number of distinct seeds paired."""
    by_system: dict[System, dict[tuple[str, str, Any], bool]] = {a: {}, b: {}}
    for r in rows:
        system = (r["protocol"], r["graph"], r["pool"])
        if system in by_system:
            by_system[system][(r["task"], r["item_id"], r["seed"])] = bool(r["correct"])
    items: dict[tuple[str, str], list[tuple[bool, bool]]] = {}
    seeds = set()
    for key, right_a in by_system[a].items():
        if key in by_system[b]:
            items.setdefault(key[:2], []).append((right_a, by_system[b][key]))
            seeds.add(key[2])
    ordered = sorted(items)
    share_a = [sum(x for x, _ in items[k]) / len(items[k]) for k in ordered]
    share_b = [sum(y for _, y in items[k]) / len(items[k]) for k in ordered]
    return share_a, share_b, [task for task, _ in ordered], len(seeds)


def contrast_records(
    rows: Sequence[Row],
    contrasts: Sequence[tuple[System, System]],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One record per contrast: the fields of :class:`~agora.experiment.stats.Comparison` and the seeds pooled; a
    contrast without paired items has ``n`` 0 and no statistics. Holm's adjustment runs over the contrasts that
    have items."""
    found: list[tuple[str, str, Comparison | None, int]] = []
    for a, b in contrasts:
        share_a, share_b, tasks, seeds = paired_values(rows, a, b)
        names = (system_name(a), system_name(b))
        c = compare(share_a, share_b, tasks, names=names, resamples=resamples, seed=seed) if share_a else None
        found.append((*names, c, seeds))
    adjusted = iter(adjust([c for _, _, c, _ in found if c is not None]))
    records: list[dict[str, Any]] = []
    for a, b, c, seeds in found:
        if c is None:
            records.append({"a": a, "b": b, "n": 0, "seeds": 0})
        else:
            record = asdict(next(adjusted))
            records.append({**record, "ci": list(record["ci"]), "seeds": seeds})
    return records


def contrast_table(records: Sequence[Mapping[str, Any]]) -> str:
    """The contrast records as a markdown table."""
    lines = [
        "| A | B | items | seeds | A % | B % | diff (points) | 95% CI | A better | B better | McNemar p | Holm p |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in records:
        if not r["n"]:
            lines.append(f"| {r['a']} | {r['b']} | 0 | – | – | – | – | – | – | – | – | – |")
            continue
        lines.append(
            f"| {r['a']} | {r['b']} | {r['n']} | {r['seeds']} | {100 * r['accuracy_a']:.1f} | "
            f"{100 * r['accuracy_b']:.1f} | {points(r['diff'])} | {points(r['ci'][0])} to {points(r['ci'][1])} | "
            f"{r['a_better']} | {r['b_better']} | {format_p(r['mcnemar_p'])} | {format_p(r['holm_p'])} |"
        )
    return "\n".join(lines)
