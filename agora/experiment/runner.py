"""Running a sweep: every configuration on every item, one result row each, resumable.

A configuration is (protocol, graph, pool, seed); its id is a hash of everything that decides what its debates do
(the protocol spec and its templates' text, the graph, the personas, the seed). A row's id hashes the configuration
id with the item's identity, so a rerun of the same spec finds the rows it already wrote and skips them: killing a
sweep loses at most the items in progress. Rows are appended to ``results.jsonl`` as each item finishes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..backends import Backend, resolve_backend
from ..debate import Debate
from ..errors import ConfigError, DebateError
from ..graph import GraphSpec
from ..persona import Persona
from ..phases import derive_seed
from ..protocol import Protocol
from ..tasks import TaskItem, extract, gold_value, is_correct, load_task
from ..transcript import EndEvent, MessageEvent, StopEvent, Transcript, canonical_hash
from .metrics import majority, summary_table
from .spec import ExperimentSpec, load_spec, persona_cards, resolve_pool, resolve_protocol

RESULTS = "results.jsonl"
COLUMNS = [
    "row_id",
    "config_id",
    "task",
    "item_id",
    "protocol",
    "graph",
    "pool",
    "seed",
    "agents",
    "models",
    "kind",
    "gold",
    "answer",
    "extracted",
    "correct",
    "member_answers",
    "members_correct",
    "majority",
    "majority_correct",
    "final_answers",
    "rounds_run",
    "stopped",
    "prompt_tokens",
    "completion_tokens",
    "wall_s",
    "status",
    "error",
    "transcript",
]


@dataclass(frozen=True)
class Configuration:
    """One point of the sweep, without the item."""

    protocol_name: str
    protocol: Protocol
    graph: str
    pool: str
    personas: tuple[Persona, ...]
    seed: int

    @property
    def id(self) -> str:
        templates = {name: t.source for name, t in sorted(self.protocol.templates.items())}
        templates["system"] = self.protocol.system_template.source
        return canonical_hash(
            {
                "protocol": self.protocol.spec.model_dump(mode="json"),
                "templates": templates,
                "personas": [p.model_dump(mode="json") for p in self.personas],
                "seed": self.seed,
            }
        )[:16]

    @property
    def label(self) -> str:
        return f"{self.protocol_name} · {self.graph} · {self.pool} · seed {self.seed}"


def _talks(protocol: Protocol) -> bool:
    """Whether any agent ever reads another's message (else the graph does not matter)."""
    return any(p.kind in ("critique", "revise") for p in protocol.spec.phases)


def _graph_labels(graphs: list[GraphSpec]) -> list[str]:
    kinds = [g.kind for g in graphs]
    return [k if kinds.count(k) == 1 else f"{k}-{i + 1}" for i, k in enumerate(kinds)]


def configurations(spec: ExperimentSpec, source: Path) -> list[Configuration]:
    """Every (protocol, graph, pool, seed) the spec asks for, in spec order; validates every reference."""
    base = source.parent
    cards = persona_cards(spec, base)
    pools = {name: tuple(resolve_pool(name, agents, cards, source)) for name, agents in spec.pools.items()}
    configs = []
    for index, entry in enumerate(spec.protocols):
        protocol = resolve_protocol(entry, base, source, index)
        graphs: list[tuple[str, Protocol]] = [("own" if _talks(protocol) else "none", protocol)]
        if spec.graphs and _talks(protocol):
            graphs = [
                (label, protocol.with_overrides(graph=g.model_dump()))
                for label, g in zip(_graph_labels(spec.graphs), spec.graphs, strict=True)
            ]
        for pool in entry.pools or list(spec.pools):
            for graph_label, graphed in graphs:
                for seed in spec.seeds:
                    configs.append(Configuration(entry.name, graphed, graph_label, pool, pools[pool], seed))
    return configs


def row_id(config_id: str, item: TaskItem) -> str:
    return hashlib.sha256(f"{config_id}:{item.key}".encode()).hexdigest()[:16]


# -- reading a finished debate ---------------------------------------------------------------------------------
def _first_answers(t: Transcript) -> dict[str, MessageEvent]:
    """Each agent's first proposal: given before it saw anyone else's message (the member alone)."""
    first: dict[str, MessageEvent] = {}
    for m in t.messages:
        if m.kind == "propose" and m.ok and m.agent not in first:
            first[m.agent] = m
    return first


def _final_answers(t: Transcript) -> dict[str, MessageEvent]:
    latest: dict[str, MessageEvent] = {}
    for m in t.messages:
        if m.kind in ("propose", "revise") and m.ok:
            latest[m.agent] = m
    return latest


def score_transcript(item: TaskItem, t: Transcript, seed: int) -> dict[str, Any]:
    """The columns a transcript gives: the system's answer and correctness, each member's first answer, their
    majority, final answers, rounds, stop reason, tokens, status."""
    gold = gold_value(item)
    first = _first_answers(t)
    final = _final_answers(t)
    member_answers = {a: extract(item, m.text).value for a, m in first.items()}
    outcome = t.outcome
    text = ""
    if outcome is not None and outcome.winner is not None:
        winner = final.get(outcome.winner)
        text = winner.text if winner is not None else outcome.answer
    found = extract(item, text) if text else None
    vote = majority(member_answers.values(), seed=derive_seed(seed, "majority", item.key))
    stops = [e for e in t.events if isinstance(e, StopEvent)]
    end = t.end
    return {
        "answer": outcome.answer if outcome is not None else "",
        "extracted": found.value if found else None,
        "correct": bool(text) and is_correct(item, text),
        "member_answers": member_answers,
        "members_correct": {a: v == gold for a, v in member_answers.items()},
        "majority": vote,
        "majority_correct": vote == gold if member_answers else None,
        "final_answers": {a: extract(item, m.text).value for a, m in final.items()},
        "rounds_run": max((m.round for m in t.messages), default=0),
        "stopped": stops[-1].reason if stops else "",
        "prompt_tokens": sum(m.prompt_tokens for m in t.messages),
        "completion_tokens": sum(m.completion_tokens for m in t.messages),
        "status": t.status,
        "error": end.error if end is not None else "did not finish",
    }


# -- the results file ------------------------------------------------------------------------------------------
def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a results file; a cut-off last line (a killed run) is dropped and the file repaired."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]
    rows = []
    for number, line in enumerate(complete, start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise ConfigError(f"line {number} is not a JSON row", source=path) from None
    if tail.strip():  # written without its newline: the process died mid-write
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in complete if line.strip()), encoding="utf-8")
        os.replace(tmp, path)
    return rows


def append_row(fh: TextIO, row: dict[str, Any]) -> None:
    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """The rows as CSV; mappings and lists are written as JSON text."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()})


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text)[:80]


# -- the sweep -------------------------------------------------------------------------------------------------
@dataclass
class SweepReport:
    out: Path
    rows: list[dict[str, Any]]
    ran: int
    skipped: int
    table: str


Notify = Callable[[str], None]


def _eta(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


class Sweep:
    """A loaded spec ready to run: its configurations and items, validated before anything runs."""

    def __init__(
        self,
        spec_path: str | Path,
        out: str | Path | None = None,
        *,
        items: int | None = None,
        backend: Backend | None = None,
    ):
        self.source = Path(spec_path)
        self.spec = load_spec(self.source)
        if items is not None and items < 1:
            raise ConfigError(f"--items must be at least 1, got {items}", field="--items")
        self.out = Path(out) if out is not None else Path("experiments") / self.spec.name
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError("the output path exists and is not a directory", source=self.out)
        self.configs = configurations(self.spec, self.source)
        self.items = [
            item
            for entry in self.spec.tasks
            for item in load_task(entry.task, items if items is not None else entry.n, entry.seed)
        ]
        self.backend = backend
        self._backends: dict[str, Backend] = {}
        for config in self.configs:  # every model reference must resolve before anything runs
            for p in config.personas:
                if backend is None:
                    resolve_backend(p, self._backends)
            self._debate(config)

    def _debate(self, config: Configuration) -> Debate:
        return Debate(
            list(config.personas),
            config.protocol,
            seed=config.seed,
            backends=self._backends,
            backend=self.backend,
        )

    def jobs(self) -> Iterator[tuple[Configuration, TaskItem]]:
        """Item by item, every configuration: partial results cover every configuration early."""
        for item in self.items:
            for config in self.configs:
                yield config, item

    def run(self, notify: Notify | None = None) -> SweepReport:
        notify = notify or (lambda line: None)
        self.out.mkdir(parents=True, exist_ok=True)
        results = self.out / RESULTS
        rows = read_rows(results)
        done = {r["row_id"] for r in rows}
        jobs = list(self.jobs())
        todo = [(c, i) for c, i in jobs if row_id(c.id, i) not in done]
        skipped = len(jobs) - len(todo)
        self._write_configurations()
        notify(
            f"experiment {self.spec.name}: {len(self.configs)} configurations x {len(self.items)} items = "
            f"{len(jobs)} runs" + (f"; {skipped} already done, {len(todo)} to run" if skipped else "")
        )
        start = time.perf_counter()
        with results.open("a", encoding="utf-8") as fh:
            for k, (config, item) in enumerate(todo, start=1):
                row = self._run_one(config, item)
                append_row(fh, row)
                rows.append(row)
                elapsed = time.perf_counter() - start
                eta = elapsed / k * (len(todo) - k)
                mark = "right" if row["correct"] else ("FAILED" if row["status"] != "completed" else "wrong")
                notify(
                    f"[{skipped + k}/{len(jobs)}] {config.label} · {item.key}: {mark} "
                    f"({row['wall_s']:.1f} s) · ETA {_eta(eta)}"
                )
        wanted = {row_id(c.id, i) for c, i in jobs}
        mine = [r for r in rows if r["row_id"] in wanted]
        write_csv(mine, self.out / "results.csv")
        table = summary_table(mine)
        (self.out / "summary.md").write_text(self._summary(table), encoding="utf-8")
        return SweepReport(self.out, mine, len(todo), skipped, table)

    def _run_one(self, config: Configuration, item: TaskItem) -> dict[str, Any]:
        rid = row_id(config.id, item)
        transcript = self.out / "transcripts" / config.id / f"{_safe(item.task)}-{_safe(item.id)}.jsonl"
        debate = self._debate(config)
        started = time.perf_counter()
        try:
            result = debate.run_sync(item.prompt(), out=transcript)
            t = result.transcript
        except DebateError as exc:  # below quorum, for example: the row says so and the sweep goes on
            t = Transcript.load(transcript) if transcript.is_file() else Transcript()
            if t.end is None:
                t.append(EndEvent(status="failed", error=str(exc)))
        wall = time.perf_counter() - started
        row = {
            "row_id": rid,
            "config_id": config.id,
            "task": item.task,
            "item_id": item.id,
            "protocol": config.protocol_name,
            "graph": config.graph,
            "pool": config.pool,
            "seed": config.seed,
            "agents": len(config.personas),
            "models": sorted({p.model for p in config.personas}),
            "kind": item.kind,
            "gold": gold_value(item),
            **score_transcript(item, t, config.seed),
            "wall_s": round(wall, 3),
            "transcript": str(transcript.relative_to(self.out)),
        }
        return {k: row[k] for k in COLUMNS}

    def _write_configurations(self) -> None:
        described = {
            c.id: {
                "protocol": c.protocol_name,
                "graph": c.graph,
                "pool": c.pool,
                "seed": c.seed,
                "agents": [p.name for p in c.personas],
                "models": {p.name: p.model for p in c.personas},
                "rounds": c.protocol.spec.rounds,
            }
            for c in self.configs
        }
        path = self.out / "configurations.json"
        path.write_text(json.dumps(described, indent=2) + "\n", encoding="utf-8")

    def _summary(self, table: str) -> str:
        tasks = ", ".join(f"{e.task} ({e.n or 'all'})" for e in self.spec.tasks)
        return (
            f"# {self.spec.name}\n\n{self.spec.description.strip()}\n\n"
            f"Tasks: {tasks}; seeds {self.spec.seeds}. Accuracy with its Wilson 95% interval; "
            "'majority' is the plurality of the members' first answers; 'members alone' each member's first, "
            "independent answer; 'emergent' the items the system got right where every member alone was wrong "
            "(count and share of those items). Columns of results.csv: docs/experiments.md.\n\n"
            f"{table}\n"
        )


def run_experiment(
    spec_path: str | Path,
    out: str | Path | None = None,
    *,
    items: int | None = None,
    backend: Backend | None = None,
    notify: Notify | None = None,
) -> SweepReport:
    """Run (or finish) the sweep a spec describes; see :class:`Sweep`."""
    return Sweep(spec_path, out, items=items, backend=backend).run(notify)


def print_notice(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
