"""Disagreement metrics: pure functions of a :class:`~agora.analysis.positions.Positions` table (or of messages).

Each function's docstring is its definition; ``docs/analysis.md`` lists them all. "Stage" is a proposal or revision
phase (see :mod:`agora.analysis.positions`); a share is taken over the agents that hold a position at that stage.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx

from agora.aggregation.candidates import content_words
from agora.analysis.positions import Positions
from agora.transcript import MessageEvent


# -- distribution of answers ------------------------------------------------------------------------------------
def answer_distribution(pos: Positions) -> list[dict[str, float]]:
    """Per stage: each position's share of the agents holding a position (shares sum to 1; empty when none)."""
    out = []
    for held in pos.table:
        counts = Counter(held.values())
        total = sum(counts.values())
        out.append({p: n / total for p, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))})
    return out


def answer_entropy(pos: Positions) -> list[float]:
    """Per stage: the Shannon entropy, in bits, of the answer distribution, ``-sum(p * log2 p)``.

    0 when every agent holds the same position; ``log2(n)`` when ``n`` agents hold ``n`` different ones.
    """
    return [_entropy(d.values()) for d in answer_distribution(pos)]


def _entropy(shares: Iterable[float]) -> float:
    return max(0.0, -sum(p * math.log2(p) for p in shares if p > 0))


def consensus_curve(pos: Positions) -> list[float]:
    """Per stage: the share of agents holding the most common position (1.0 is unanimity; 0.0 when none)."""
    return [max(d.values(), default=0.0) for d in answer_distribution(pos)]


def consensus_round(pos: Positions, threshold: float = 1.0) -> int | None:
    """The round in which the agents reached consensus and kept it: the round of the earliest stage from which, to
    the last stage, the most common position is held by at least ``threshold`` of the agents holding one (1.0:
    all of them). None when the last stage falls short, or when fewer than two agents hold a position."""
    curve = consensus_curve(pos)
    if not curve or len(pos.final) < 2 or curve[-1] < threshold:
        return None
    first = len(curve) - 1
    while first > 0 and curve[first - 1] >= threshold and _same_leader(pos, first - 1, first):
        first -= 1
    return pos.stages[first][0]


def _same_leader(pos: Positions, a: int, b: int) -> bool:
    """Whether the most common position is the same at stages ``a`` and ``b``."""
    da, db = answer_distribution(pos)[a], answer_distribution(pos)[b]
    return bool(da) and bool(db) and next(iter(da)) == next(iter(db))


def polarisation(pos: Positions) -> list[float]:
    """Per stage: ``4 * p1 * p2``, where ``p1`` and ``p2`` are the shares of the two largest positions.

    1.0 when the agents split evenly into two camps; 0.0 under consensus; lower when they scatter over many small
    positions (three equal camps give 0.44).
    """
    out = []
    for d in answer_distribution(pos):
        shares = sorted(d.values(), reverse=True) + [0.0, 0.0]
        out.append(4 * shares[0] * shares[1])
    return out


# -- pairs and moves --------------------------------------------------------------------------------------------
def agreement_matrix(pos: Positions) -> dict[str, dict[str, float | None]]:
    """``m[a][b]``: the share of stages, among those at which both hold a position, at which ``a`` and ``b`` hold
    the same one (None when there is no such stage). Symmetric; the diagonal is 1.0 for an agent that answered."""
    out: dict[str, dict[str, float | None]] = {}
    for a in pos.agents:
        out[a] = {}
        for b in pos.agents:
            both = [held for held in pos.table if a in held and b in held]
            out[a][b] = sum(held[a] == held[b] for held in both) / len(both) if both else None
    return out


def flips(pos: Positions) -> dict[str, list[bool | None]]:
    """Per agent and stage: True when its position differs from its position at the stage before, False when it is
    the same, None at the first stage or when it holds no position at either stage."""
    out: dict[str, list[bool | None]] = {}
    for a in pos.agents:
        row: list[bool | None] = [None]
        for before, now in zip(pos.table, pos.table[1:], strict=False):
            row.append(before[a] != now[a] if a in before and a in now else None)
        out[a] = row[: len(pos.table)]
    return out


def flip_rate_by_agent(pos: Positions) -> dict[str, float | None]:
    """Per agent: its flips divided by the stages at which a flip was possible (None when there were none)."""
    out = {}
    for a, row in flips(pos).items():
        known = [f for f in row if f is not None]
        out[a] = sum(known) / len(known) if known else None
    return out


def flip_rate_by_round(pos: Positions) -> dict[int, float | None]:
    """Per round: the flips in that round's stages divided by the agent-stages at which a flip was possible."""
    per_round: dict[int, list[bool]] = {}
    for row in flips(pos).values():
        for stage, f in enumerate(row):
            per_round.setdefault(pos.stages[stage][0], [])
            if f is not None:
                per_round[pos.stages[stage][0]].append(f)
    return {r: (sum(fs) / len(fs) if fs else None) for r, fs in per_round.items()}


def persuasion_graph(pos: Positions, edges: Iterable[tuple[str, str]]) -> nx.DiGraph:
    """Who moved toward whose earlier answer, along the interaction graph.

    When agent ``v`` changes position at a stage to a position ``P``, every agent ``u`` with an interaction edge
    ``u -> v`` (``v`` hears ``u``) that held ``P`` at the stage before is credited with ``1/k`` of that move, where
    ``k`` is the number of such ``u``. Edge ``u -> v`` carries ``weight`` (the summed credit) and ``moves`` (the
    stages). A move that no in-neighbour explains counts in the node attribute ``unexplained`` of ``v``. Every
    agent is a node; only interaction edges can carry weight.
    """
    heard_by: dict[str, list[str]] = {}
    for u, v in edges:
        heard_by.setdefault(v, []).append(u)
    g = nx.DiGraph()
    g.add_nodes_from(pos.agents, unexplained=0)
    for stage in range(1, len(pos.table)):
        before, now = pos.table[stage - 1], pos.table[stage]
        for v in pos.agents:
            if v not in before or v not in now or before[v] == now[v]:
                continue
            sources = sorted(u for u in set(heard_by.get(v, [])) if before.get(u) == now[v])
            if not sources:
                g.nodes[v]["unexplained"] += 1
                continue
            for u in sources:
                if not g.has_edge(u, v):
                    g.add_edge(u, v, weight=0.0, moves=[])
                g[u][v]["weight"] += 1 / len(sources)
                g[u][v]["moves"].append(pos.label(stage))
    return g


def influence(graph: nx.DiGraph) -> dict[str, float]:
    """Per agent: the summed weight of its outgoing persuasion edges (how many moves it is credited with)."""
    return {n: sum(d["weight"] for _, _, d in graph.out_edges(n, data=True)) for n in graph.nodes}


# -- values -----------------------------------------------------------------------------------------------------
def normalised_values(personas: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """agent -> value -> weight, the weights of each persona scaled to sum to 1 (from a header's persona list)."""
    out = {}
    for p in personas:
        values = {str(k): float(v) for k, v in (p.get("values") or {}).items()}
        total = sum(values.values()) or 1.0
        out[str(p["name"])] = {k: v / total for k, v in values.items()}
    return out


def value_conflict_map(camps: Mapping[str, str], values: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Which stated values separate the camps.

    ``camps`` maps each agent to its camp (e.g. its final position), ``values`` each agent to its normalised value
    weights. A camp's **profile** is the mean weight of each value over its members (0 for a value a member does
    not state); a value's **spread** is its highest camp mean minus its lowest. Values are listed by spread, the
    largest first; ``leads`` names the camp with the highest mean for each. With fewer than two camps nothing
    separates anyone: spreads are empty.
    """
    members: dict[str, list[str]] = {}
    for agent, camp in camps.items():
        members.setdefault(camp, []).append(agent)
    names = sorted({v for a in camps for v in values.get(a, {})})
    profiles = {
        camp: {v: sum(values.get(a, {}).get(v, 0.0) for a in group) / len(group) for v in names}
        for camp, group in sorted(members.items())
    }
    spread: dict[str, float] = {}
    leads: dict[str, str] = {}
    if len(profiles) >= 2:
        for v in names:
            means = {camp: prof[v] for camp, prof in profiles.items()}
            spread[v] = max(means.values()) - min(means.values())
            leads[v] = max(means, key=lambda c: (means[c], c))
        spread = dict(sorted(spread.items(), key=lambda kv: (-kv[1], kv[0])))
    return {"camps": dict(sorted(members.items())), "profiles": profiles, "spread": spread, "leads": leads}


# -- persona fidelity -------------------------------------------------------------------------------------------
_SUFFIXES = (
    "ability", "ibility", "ation", "ness", "ment", "able", "ible", "ity", "ics", "ies", "ing", "ous", "ive",
    "ed", "ly", "al", "ic", "es", "s", "y",
)  # fmt: skip
_WORD = re.compile(r"[a-z]+")


def stem(word: str) -> str:
    """A crude stem: the longest listed suffix removed when at least four letters remain, cut to six letters."""
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:6]


def stems(text: str) -> Counter[str]:
    """The stems of a text's content words (see :func:`agora.aggregation.candidates.content_words`), with their counts."""
    counts: Counter[str] = Counter()
    for word in _WORD.findall(text.lower()):
        if content_words(word):
            counts[stem(word)] += 1
    return counts


def persona_terms(persona: Mapping[str, Any]) -> Counter[str]:
    """The stems of a persona card's stated values (each value's words) and its description."""
    words = " ".join(str(v).replace("_", " ") for v in (persona.get("values") or {}))
    return stems(words + " " + str(persona.get("description", "")))


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two term-count vectors (0.0 when either is empty)."""
    dot = sum(a[k] * b.get(k, 0.0) for k in a)
    na, nb = math.sqrt(sum(x * x for x in a.values())), math.sqrt(sum(x * x for x in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def value_mentions(text: str, values: Mapping[str, float]) -> float:
    """The weight of the stated values a text mentions: the sum of the normalised weights of the values one of
    whose words (by stem) occurs in the text."""
    found = set(stems(text))
    total = sum(values.values()) or 1.0
    return sum(w for v, w in values.items() if any(stem(x) in found for x in v.split("_") if x)) / total


def persona_fidelity(
    messages: Sequence[MessageEvent], personas: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, float | int | None]]:
    """Per agent, a lexical proxy for arguing from its own persona card rather than someone else's.

    Each successful message is compared, as a bag of word stems, with every persona card of the debate (its stated
    values' words and its description); ``fidelity`` is the share of the agent's messages whose most similar card
    (cosine similarity) is strictly its own: about ``1/n`` by chance among ``n`` distinct cards, 1.0 when every
    message reads most like its own card. ``margin`` is the mean of (similarity to its own card minus the best
    similarity to another card). ``value_mentions`` is the mean, over its messages, of the weight of its own stated
    values the message mentions (see :func:`value_mentions`). ``messages`` counts the messages; the scores are
    None when the agent has none, and ``fidelity`` and ``margin`` are None with a single card.
    """
    cards = {str(p["name"]): p for p in personas}
    terms = {name: persona_terms(p) for name, p in cards.items()}
    values = normalised_values(list(cards.values()))
    out: dict[str, dict[str, float | int | None]] = {}
    for name in cards:
        own = [m for m in messages if m.agent == name and m.ok and m.text.strip()]
        hits, margins, mentions = 0, [], []
        for m in own:
            bag = stems(m.text)
            sims = {other: cosine(bag, t) for other, t in terms.items()}
            rivals = [s for other, s in sims.items() if other != name]
            mentions.append(value_mentions(m.text, values.get(name, {})))
            if rivals:
                hits += sims[name] > max(rivals)
                margins.append(sims[name] - max(rivals))
        n = len(own)
        out[name] = {
            "messages": n,
            "fidelity": hits / n if n and margins else None,
            "margin": sum(margins) / len(margins) if margins else None,
            "value_mentions": sum(mentions) / n if n else None,
        }
    return out
