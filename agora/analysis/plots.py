"""The report's figures, drawn with matplotlib (an optional dependency: ``pip install 'agora[report]'``) and returned
as PNG ``data:`` URIs, so a page that shows them needs no other file.

Figures are built on ``matplotlib.figure.Figure`` directly, never through pyplot, so drawing them changes no global
matplotlib state (a notebook's backend stays as it was).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx

from agora.errors import AgoraError

#: one colour per position P1, P2, ... (cycled), shared by every figure and table of a report
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f")
MUTED = "#bab0ac"


def position_colour(position: str | None) -> str:
    """The colour of a position id ("P3" -> the third palette colour); grey for no position."""
    if not position or not position[1:].isdigit():
        return MUTED
    return PALETTE[(int(position[1:]) - 1) % len(PALETTE)]


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise AgoraError("the HTML report needs matplotlib: pip install 'agora[report]'") from None
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _data_uri(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def consensus_plot(
    labels: Sequence[str],
    consensus: Sequence[float | None],
    entropy: Sequence[float | None],
    polarisation: Sequence[float | None],
    each: Sequence[Sequence[float]] = (),
) -> str:
    """The consensus curve (share of the largest camp) and polarisation per stage, with entropy beside them;
    ``each`` adds one faint consensus line per debate (for experiments)."""
    fig = _figure(9.5, 3.4)
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    x = list(range(len(labels)))
    for curve in each:
        left.plot(range(len(curve)), curve, color=PALETTE[0], alpha=0.15, linewidth=1)
    left.plot(
        x,
        _nan(consensus),
        marker="o",
        color=PALETTE[0],
        linewidth=2.4,
        label="largest camp's share",
        zorder=3,
    )
    left.plot(
        x,
        _nan(polarisation),
        marker="s",
        color=PALETTE[3],
        linewidth=1.4,
        linestyle="--",
        label="polarisation",
        zorder=4,
        markersize=4,
    )
    left.set_ylim(-0.03, 1.05)
    left.set_title("Consensus curve")
    left.legend(loc="lower left", fontsize=8, frameon=False)
    right.bar(x, _nan(entropy), color=PALETTE[1])
    right.set_ylim(0.0, max([1.0] + [1.1 * v for v in entropy if v is not None]))
    right.set_title("Entropy of the answers (bits)")
    for ax in (left, right):
        ax.set_xticks(x, [lab.replace(" · ", "\n") for lab in labels], fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    return _data_uri(fig)


def _nan(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def agreement_heatmap(agents: Sequence[str], matrix: Mapping[str, Mapping[str, float | None]]) -> str:
    """A heatmap of the pairwise agreement matrix, each cell labelled with its value."""
    n = max(len(agents), 1)
    fig = _figure(2.0 + 0.62 * n, 1.1 + 0.55 * n)
    ax = fig.subplots()
    grid = [[_nan([matrix.get(a, {}).get(b)])[0] for b in agents] for a in agents]
    image = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            text = "–" if math.isnan(value) else f"{value:.2f}"
            ax.text(
                j, i, text, ha="center", va="center", fontsize=8, color="white" if value < 0.6 else "black"
            )
    ax.set_xticks(range(len(agents)), agents, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(agents)), agents, fontsize=8)
    ax.set_title("Pairwise agreement", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _data_uri(fig)


def persuasion_plot(
    agents: Sequence[str],
    interaction: Sequence[tuple[str, str]],
    persuasion: nx.DiGraph,
    final: Mapping[str, str] | None = None,
) -> str:
    """The persuasion graph on a circular networkx layout: thin grey arrows are the interaction graph (who hears
    whom), thick arrows who moved whom (width grows with the weight); nodes are coloured by final position."""
    fig = _figure(5.2, 4.6)
    ax = fig.subplots()
    graph = nx.DiGraph()
    graph.add_nodes_from(agents)
    layout = nx.circular_layout(graph) if len(agents) > 1 else {a: (0.0, 0.0) for a in agents}
    top = max((d["weight"] for _, _, d in persuasion.edges(data=True)), default=1.0) or 1.0
    for u, v in interaction:
        if u in layout and v in layout:
            _arrow(ax, layout[u], layout[v], colour="#cccccc", width=0.8, bend=0.08)
    for u, v, data in persuasion.edges(data=True):
        if u in layout and v in layout:
            _arrow(
                ax, layout[u], layout[v], colour=PALETTE[3], width=1.5 + 4.5 * data["weight"] / top, bend=0.2
            )
            mid = _bent_middle(layout[u], layout[v], 0.2)
            ax.text(
                *mid,
                f"{data['weight']:.3g}",
                fontsize=8,
                color=PALETTE[3],
                ha="center",
                va="center",
                zorder=5,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
            )
    for a in agents:
        x, y = layout[a]
        ax.scatter([x], [y], s=900, color=position_colour((final or {}).get(a)), zorder=3, edgecolors="white")
        ax.text(x, y - 0.2, a, ha="center", va="top", fontsize=9, zorder=4)
        if final and a in final:
            ax.text(x, y, final[a], ha="center", va="center", fontsize=8, color="white", zorder=4)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.5, 1.35)
    ax.set_aspect("equal")
    ax.axis("off")
    moved = persuasion.number_of_edges()
    ax.set_title("Persuasion graph" + ("" if moved else " (nobody moved toward a neighbour)"), fontsize=10)
    return _data_uri(fig)


def _bent_middle(a: Sequence[float], b: Sequence[float], bend: float) -> tuple[float, float]:
    (x1, y1), (x2, y2) = a, b
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    return mx + bend * (y2 - y1) / 2, my - bend * (x2 - x1) / 2


def _arrow(ax: Any, a: Sequence[float], b: Sequence[float], colour: str, width: float, bend: float) -> None:
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(
            tuple(a),
            tuple(b),
            arrowstyle="-|>",
            mutation_scale=10 + 2 * width,
            linewidth=width,
            color=colour,
            connectionstyle=f"arc3,rad={bend}",
            shrinkA=17,
            shrinkB=17,
            zorder=2,
        )
    )
