"""A readable terminal view of a transcript: rounds, phases, who said what to whom, ballots, outcome."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from typing import Any, TextIO

from agora.transcript import (
    BallotEvent,
    EndEvent,
    MessageEvent,
    OutcomeEvent,
    PhaseEvent,
    StopEvent,
    Transcript,
)

WIDTH = 100


#: characters a terminal acts on instead of showing: C0 and C1 controls (ESC starts colour, cursor and title
#: sequences) but newline and tab, DEL, and the Unicode bidirectional overrides that reorder what is shown
_UNSAFE = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]")


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on written out as an escape (``\\x1b``), so that text
    from models and cards is shown, never obeyed."""
    return _UNSAFE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


class PrintableStream:
    """A text stream that writes everything through :func:`printable` (the command line's stdout)."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(printable(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _wrap(text: str, indent: str = "    ") -> str:
    lines = []
    for para in text.strip().splitlines() or [""]:
        lines.extend(
            textwrap.wrap(para, WIDTH - len(indent), initial_indent=indent, subsequent_indent=indent)
            or [indent]
        )
    return "\n".join(lines)


def format_values(values: dict[str, float]) -> str:
    total = sum(values.values()) or 1.0
    ordered = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} {v / total:.0%}" for k, v in ordered)


def tally_table(outcome: OutcomeEvent) -> list[str]:
    rules = [outcome.rule] + [r for r in outcome.scores if r != outcome.rule]
    cands = [c for tier in outcome.ranking for c in tier]
    width = max([len(c) for c in cands] + [9])
    rows = ["  " + "candidate".ljust(width) + "".join(r.rjust(11) for r in rules)]
    for c in cands:
        rows.append("  " + c.ljust(width) + "".join(f"{outcome.scores[r].get(c, 0.0):11.2f}" for r in rules))
    return rows


def robustness_text(report: dict) -> str:
    """One line on how robust a winner is (see :mod:`agora.aggregation.robustness`)."""
    parts = []
    if report.get("condorcet_winner"):
        parts.append(f"Condorcet winner {report['condorcet_winner']}")
    else:
        parts.append("no Condorcet winner" + (" (a majority cycle)" if report.get("majority_cycle") else ""))
    rules = report.get("rules", {})
    counted = len(rules.get("agree", [])) + len(rules.get("disagree", {}))
    if counted:
        others = "; ".join(f"{r}: {' = '.join(w) or 'none'}" for r, w in rules.get("disagree", {}).items())
        parts.append(
            f"{len(rules.get('agree', []))} of {counted} rules agree" + (f" ({others})" if others else "")
        )
    flip = report.get("flip")
    if flip is not None:
        if flip["ballots"] is None:
            parts.append("no change of ballots to a nearest challenger elects another")
        elif flip["ballots"] == 0:
            parts.append("already a tie for first")
        else:
            bound = "" if flip["exact"] else "at most "
            noun = "ballot" if flip["ballots"] == 1 else "ballots"
            parts.append(f"{bound}{flip['ballots']} changed {noun} elect {flip['to']}")
    loo = report.get("leave_one_out")
    if loo is not None:
        parts.append(
            "survives leaving out any one voter"
            if loo["survives"]
            else f"leaving out {', '.join(loo['pivotal'])} changes the winner"
        )
    if report.get("skipped"):
        parts.append(report["skipped"])
    return "Robustness: " + "; ".join(parts)


def render_outcome(outcome: OutcomeEvent) -> list[str]:
    how = ", value-weighted" if outcome.weights else ", weighted" if outcome.weighted else ""
    counted = (
        f"{outcome.voters} of {outcome.cast} ballots valid" if outcome.cast else f"{outcome.voters} ballots"
    )
    out = [f"Outcome ({outcome.rule}{how}, {counted})"]
    judged = outcome.judgement
    if judged:
        when = "early, " if judged.get("decided_early") else ""
        read = {"winner-line": "its Winner line", "first-mention": "the first side it named"}.get(
            judged.get("method", ""), "no side named"
        )
        out = [f"Outcome (the judge decided {when}after round {judged.get('round')}; read from {read})"]
        if judged.get("error"):
            out.append(_wrap(f"The judge failed: {judged['error']}", "  "))
    if outcome.relevance:
        ranked = sorted(outcome.relevance.items(), key=lambda kv: -kv[1])
        out.append(_wrap("Relevance of values: " + ", ".join(f"{v} {x:.2f}" for v, x in ranked), "  "))
        out.append(_wrap("Weights: " + ", ".join(f"{a} {w:.2f}" for a, w in outcome.weights.items()), "  "))
    if outcome.weighting_error:
        out.append(
            _wrap(f"Value weighting unavailable ({outcome.weighting_error}); ballots counted equally", "  ")
        )
    if outcome.abstained:
        reasons = "; ".join(f"{a} ({r})" for a, r in outcome.abstained.items())
        out.append(_wrap(f"Abstained: {reasons}", "  "))
    if outcome.winner is None:
        out.append(_wrap(f"No winner: {outcome.no_winner or 'no valid ballots'}", "  "))
        return out
    backers = outcome.members.get(outcome.winner, [outcome.winner])
    also = (
        f" (the same answer as {', '.join(b for b in backers if b != outcome.winner)})"
        if len(backers) > 1
        else ""
    )
    margin = f", ahead by {outcome.margin:.3g}" if outcome.margin else ""
    out.append(f"  Winner: {outcome.winner}{also}{margin}")
    med = outcome.mediation
    if med:
        how = (
            "revised after the agents' critiques"
            if med.get("revised")
            else (f"not revised: {med.get('revision_error')}")
        )
        out.append(f"  The agents chose {outcome.winner} of {len(med.get('drafts', []))} drafts; {how}")
    out.append(_wrap(f"{'Statement' if med else 'Answer'}: {outcome.answer}", "  "))
    merged = {c: m for c, m in outcome.members.items() if len(m) > 1 and c != outcome.winner}
    for candidate, members in merged.items():
        out.append(f"  Merged: {candidate} stands for {', '.join(members)}")
    if outcome.tie_break:
        out.append(f"  Tie: {outcome.tie_break}")
    if outcome.robustness:
        out.append(_wrap(robustness_text(outcome.robustness), "  "))
    out.extend(tally_table(outcome))
    others = {r: w for r, w in outcome.winners_by_rule.items() if r != outcome.rule}
    for rule, winners in others.items():
        out.append(f"  Under {rule}: {' = '.join(winners) if winners else 'no winner'}")
    if outcome.dissent:
        details = "; ".join(
            f"{d['agent']} preferred {d['first_choice']} (short by {d['shortfall']:.3g})"
            for d in outcome.dissent
        )
        out.append(_wrap(f"Dissent: {details}", "  "))
    else:
        out.append(
            f"  Dissent: {', '.join(outcome.dissenters) if outcome.dissenters else 'none (every first choice won)'}"
        )
    conflict = outcome.value_conflict
    if conflict.get("opposition"):
        split = ", ".join(f"{v} {d:+.2f}" for v, d in list(conflict["split"].items())[:4])
        out.append(_wrap(f"Values, winners' side minus the rest: {split}", "  "))
        if conflict.get("pulled_apart"):
            lead, lag = conflict["pulled_apart"]
            out.append(f"  Pulled apart: {lead} (winners' side) against {lag} (the rest)")
    return out


def render_positions(transcript: Transcript) -> list[str]:
    """Who held which position at each stage, what each position says, and the consensus curve."""
    from agora.analysis.metrics import consensus_curve, consensus_round
    from agora.analysis.positions import positions

    pos = positions(transcript)
    if not pos.stages:
        return []
    width = max(len(a) for a in pos.agents)
    heads = [f"r{r} {phase}" for r, phase in pos.stages]
    cols = [max(len(h), 4) for h in heads]
    out = ["Positions by stage:"]
    out.append(
        (
            "  " + "".ljust(width) + "".join("  " + h.ljust(c) for h, c in zip(heads, cols, strict=True))
        ).rstrip()
    )
    for a in pos.agents:
        cells = [held.get(a, "-") for held in pos.table]
        row = "  " + a.ljust(width) + "".join("  " + x.ljust(c) for x, c in zip(cells, cols, strict=True))
        out.append(row.rstrip())
    for p, text in pos.answers.items():
        short = text if len(text) <= 240 else text[:240].rsplit(" ", 1)[0] + " …"
        out.append(_wrap(f"{p}: {short}", "  "))
    found = consensus_round(pos)
    curve = " → ".join(f"{x:.0%}" for x in consensus_curve(pos))
    out.append(f"  Largest camp: {curve} · consensus round: {found if found is not None else 'none'}")
    return out


def render(transcript: Transcript) -> str:
    h = transcript.header
    out: list[str] = []
    status = transcript.status + (" (last line was cut off and ignored)" if transcript.truncated else "")
    out.append(f"agora transcript · protocol {h.protocol} · seed {h.seed} · {status}")
    out.append(f"config {h.config_hash[:12]} · {len(h.agents)} agents · {len(h.graph)} edges")
    out.append(_wrap(f"Question: {h.question}", ""))
    out.append("")
    out.append("Agents:")
    for p in h.personas:
        out.append(f"  {p['name']:<12} {p['model']:<24} {format_values(p['values'])}")
    out.append("")
    current: tuple[int, str] | None = None
    events: Iterable[object] = transcript.events[1:]
    for e in events:
        if isinstance(e, MessageEvent):
            if current != (e.round, e.phase):
                current = (e.round, e.phase)
                out.append(f"── round {e.round} · {e.phase} " + "─" * 40)
            to = ", ".join(e.recipients) if e.recipients else "nobody"
            if e.error:
                out.append(f"  {e.agent} ✗ failed: {e.error}")
                continue
            speaker = e.id.rsplit(".", 1)[-1] if e.kind == "draft" else e.agent  # 'mediator-2'
            out.append(f"  {speaker} → {to}   [{e.completion_tokens} tokens]")
            out.append(_wrap(e.text))
        elif isinstance(e, PhaseEvent):
            if e.failed:
                out.append(f"  ({e.phase}: {len(e.answered)} answered, failed: {', '.join(e.failed)})")
        elif isinstance(e, BallotEvent):
            if current != (-1, "vote"):
                current = (-1, "vote")
                out.append("── ballots " + "─" * 40)
            if e.error:
                out.append(f"  {e.agent} ✗ ballot failed: {e.error}")
                continue
            ranking = " > ".join(" = ".join(t) for t in e.ranking) if e.ranking else "abstained"
            if e.utilities is not None:
                shares = ", ".join(
                    f"{c} {u:.2f}" for c, u in sorted(e.utilities.items(), key=lambda kv: -kv[1])
                )
                out.append(f"  {e.agent}: {ranking}   (scored by its model; utilities {shares})")
                continue
            if e.parse == "own":
                out.append(f"  {e.agent}: {ranking}   (its own answer first)")
                continue
            out.append(f"  {e.agent}: {ranking}   (read by {e.parse}; reply {e.raw.strip()[:60]!r})")
            for note in e.notes:
                out.append(f"      note: {note}")
        elif isinstance(e, OutcomeEvent):
            out.append("")
            out.extend(render_outcome(e))
        elif isinstance(e, StopEvent):
            out.append(
                f"── stopped after round {e.round}: {e.reason} ({e.completion_tokens} tokens) " + "─" * 10
            )
        elif isinstance(e, EndEvent) and e.status == "failed":
            out.append("")
            out.append(f"Debate failed: {e.error}")
    if transcript.end is None:
        out.append("")
        out.append("(transcript ends early: the debate did not finish)")
    unknown = getattr(transcript, "unknown", [])
    if unknown:
        kinds = ", ".join(sorted({e.type for e in unknown}))
        out.append(f"({len(unknown)} event(s) this version of agora cannot read were skipped: {kinds})")
    table = render_positions(transcript)
    if table:
        out.append("")
        out.extend(table)
    return "\n".join(out)
