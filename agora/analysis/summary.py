"""Every metric of one debate in one object, and the same aggregated over the debates of an experiment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from agora.analysis import metrics as m
from agora.analysis.load import Results
from agora.analysis.positions import Positions, positions
from agora.transcript import OutcomeEvent, Transcript


@dataclass
class DebateSummary:
    """One transcript's metrics (see :mod:`agora.analysis.metrics` for each definition)."""

    transcript: Transcript
    positions: Positions
    distribution: list[dict[str, float]]
    entropy: list[float]
    consensus: list[float]
    polarisation: list[float]
    consensus_round: int | None
    agreement: dict[str, dict[str, float | None]]
    flip_rate_by_agent: dict[str, float | None]
    flip_rate_by_round: dict[int, float | None]
    persuasion: nx.DiGraph
    value_conflicts: dict[str, Any]
    fidelity: dict[str, dict[str, float | int | None]]

    @property
    def outcome(self) -> OutcomeEvent | None:
        return self.transcript.outcome

    @property
    def name(self) -> str:
        path = self.transcript.path
        return path.name if path is not None else "transcript"

    @property
    def influence(self) -> dict[str, float]:
        """Per agent: the moves of others it is credited with (see :func:`~agora.analysis.metrics.influence`)."""
        return m.influence(self.persuasion)

    @property
    def failed_turns(self) -> int:
        return sum(not msg.ok for msg in self.transcript.messages) + sum(
            b.error is not None for b in self.transcript.ballots
        )


def summarise(transcript: Transcript) -> DebateSummary:
    """Compute every metric of one transcript (complete, failed or cut off: whatever it holds)."""
    pos = positions(transcript)
    header = transcript.header
    return DebateSummary(
        transcript=transcript,
        positions=pos,
        distribution=m.answer_distribution(pos),
        entropy=m.answer_entropy(pos),
        consensus=m.consensus_curve(pos),
        polarisation=m.polarisation(pos),
        consensus_round=m.consensus_round(pos),
        agreement=m.agreement_matrix(pos),
        flip_rate_by_agent=m.flip_rate_by_agent(pos),
        flip_rate_by_round=m.flip_rate_by_round(pos),
        persuasion=m.persuasion_graph(pos, header.graph),
        value_conflicts=m.value_conflict_map(pos.final, m.normalised_values(header.personas)),
        fidelity=m.persona_fidelity(transcript.messages, header.personas),
    )


def _mean(xs: Sequence[float | None]) -> float | None:
    known = [x for x in xs if x is not None]
    return sum(known) / len(known) if known else None


@dataclass
class ExperimentSummary:
    """Metrics over many debates: per-stage means, pooled pair agreement and persuasion, per-agent means."""

    debates: list[DebateSummary]
    stage_labels: list[str]
    consensus: list[float | None]
    entropy: list[float | None]
    polarisation: list[float | None]
    agreement: dict[str, dict[str, float | None]]
    flip_rate_by_agent: dict[str, float | None]
    persuasion: nx.DiGraph
    interaction: list[tuple[str, str]]
    fidelity: dict[str, float | None]
    reached_consensus: int

    @property
    def influence(self) -> dict[str, float]:
        """Per agent: the moves of others it is credited with, over all debates."""
        return m.influence(self.persuasion)


def aggregate(debates: Sequence[DebateSummary]) -> ExperimentSummary:
    """Aggregate debate summaries.

    Per stage (the i-th proposal/revision stage of each debate): the mean over the debates that have it of the
    consensus share, entropy and polarisation. Per agent name: the mean pair agreement over the debates where both
    took part, the mean flip rate and fidelity. The persuasion graph sums the edge weights of every debate; the
    interaction edges are the union of the debates' graphs.
    """
    width = max((len(d.positions.stages) for d in debates), default=0)
    labels = []
    for i in range(width):
        names = {d.positions.label(i) for d in debates if i < len(d.positions.stages)}
        labels.append(names.pop() if len(names) == 1 else f"stage {i + 1}")

    def per_stage(values: Sequence[Sequence[float]]) -> list[float | None]:
        return [_mean([v[i] if i < len(v) else None for v in values]) for i in range(width)]

    agents: list[str] = []
    for d in debates:
        agents.extend(a for a in d.positions.agents if a not in agents)
    agreement = {
        a: {b: _mean([d.agreement.get(a, {}).get(b) for d in debates]) for b in agents} for a in agents
    }
    persuasion = nx.DiGraph()
    persuasion.add_nodes_from(agents, unexplained=0)
    edges: set[tuple[str, str]] = set()
    for d in debates:
        edges.update(tuple(e) for e in d.transcript.header.graph)
        for n, data in d.persuasion.nodes(data=True):
            persuasion.nodes[n]["unexplained"] += data.get("unexplained", 0)
        for u, v, data in d.persuasion.edges(data=True):
            if not persuasion.has_edge(u, v):
                persuasion.add_edge(u, v, weight=0.0, moves=[])
            persuasion[u][v]["weight"] += data["weight"]
            persuasion[u][v]["moves"].extend(data["moves"])
    return ExperimentSummary(
        debates=list(debates),
        stage_labels=labels,
        consensus=per_stage([d.consensus for d in debates]),
        entropy=per_stage([d.entropy for d in debates]),
        polarisation=per_stage([d.polarisation for d in debates]),
        agreement=agreement,
        flip_rate_by_agent={a: _mean([d.flip_rate_by_agent.get(a) for d in debates]) for a in agents},
        persuasion=persuasion,
        interaction=sorted(edges),
        fidelity={a: _mean([d.fidelity.get(a, {}).get("fidelity") for d in debates]) for a in agents},  # type: ignore[misc]
        reached_consensus=sum(d.consensus_round is not None for d in debates),
    )


# -- an experiment's accuracy table ---------------------------------------------------------------------------
#: columns that say whether one row's answer was right
CORRECT_COLUMNS = ("correct", "is_correct", "accurate", "match", "exact_match")
#: columns that name an experimental condition, when present
GROUP_COLUMNS = (
    "condition",
    "arm",
    "setting",
    "protocol",
    "method",
    "config",
    "rule",
    "graph",
    "rounds",
    "agents",
)


def _accuracy_column(columns: Sequence[str]) -> str | None:
    return next((c for c in columns if "accuracy" in c.lower() or c.lower() == "acc"), None)


def accuracy_table(results: Results) -> dict[str, Any] | None:
    """The experiment's accuracy table from a results file, or None when it has no accuracy-like column.

    A column named like ``accuracy`` is shown as it is, with the row's text columns. Otherwise a column of per-item
    right/wrong values (``correct``, ``is_correct``, ...) is averaged per condition (the rows' values of the
    columns named ``condition``, ``arm``, ``protocol``, ``method``, ... that exist), with the number of items.
    Returns ``{"columns": [...], "rows": [[...], ...], "source": path}``.
    """
    columns = results.columns
    acc = _accuracy_column(columns)
    if acc is not None:
        keep = [c for c in columns if c == acc or any(isinstance(r.get(c), str) for r in results.rows)]
        keep += [c for c in columns if c.lower() in ("n", "items", "count", "total") and c not in keep]
        rows = [[r.get(c) for c in keep] for r in results.rows if r.get(acc) is not None]
        return {"columns": keep, "rows": rows, "source": results.path}
    correct = next((c for c in columns if c.lower() in CORRECT_COLUMNS), None)
    if correct is None:
        return None
    groups = [c for c in columns if c.lower() in GROUP_COLUMNS]
    cells: dict[tuple[Any, ...], list[float]] = {}
    for r in results.rows:
        value = _truth(r.get(correct))
        if value is not None:
            cells.setdefault(tuple(str(r.get(g, "")) for g in groups), []).append(value)
    rows = [[*key, sum(v) / len(v), len(v)] for key, v in sorted(cells.items())]
    return {"columns": [*groups, "accuracy", "n"], "rows": rows, "source": results.path}


def _truth(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
        return float(value.strip().lower() in ("true", "yes", "1"))
    return None


def accuracy_tables(results: Sequence[Results]) -> list[dict[str, Any]]:
    """Every accuracy table found among the results files."""
    return [t for r in results if (t := accuracy_table(r)) is not None]


def camps_of(final: Mapping[str, str]) -> dict[str, list[str]]:
    """Position -> the agents holding it."""
    out: dict[str, list[str]] = {}
    for agent, position in final.items():
        out.setdefault(position, []).append(agent)
    return out
