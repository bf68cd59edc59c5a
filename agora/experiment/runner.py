"""Running a sweep: every configuration on every item, one result row each, resumable.

A configuration is (protocol, graph, pool, seed); its id is a hash of everything that decides what its debates do
(the protocol spec and its templates' text, the graph, the personas, the seed). A row's id hashes the configuration
id with the item's identity, so a rerun of the same spec finds the rows it already wrote and skips them: killing a
sweep loses at most the items in progress. Rows are appended to ``results.jsonl`` as each item finishes.

Several items' debates run at once in one event loop (``concurrency``), so the agents of different items meet in a
model's batches; when the sweep ends, ``results.jsonl`` is rewritten in the order a one-at-a-time run writes, so the
rows do not depend on the concurrency. ``shard`` runs one deterministic share of the rows
(:mod:`agora.experiment.shards`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agora.backends import Backend, resolve_backend
from agora.errors import ConfigError, DebateError
from agora.experiment.budget import budget_records, budget_table, matched
from agora.experiment.checks import check_sections
from agora.experiment.configs import Configuration, configurations
from agora.experiment.contrasts import resolve_contrasts
from agora.experiment.diversity import pool_diversity
from agora.experiment.items import draw_items, option_counts
from agora.experiment.metrics import diversity_table, summary_records, summary_table
from agora.experiment.results import (
    COLUMNS,
    RESULTS,
    append_row,
    read_rows,
    row_id,
    score_transcript,
    write_csv,
)
from agora.experiment.shards import Shard, in_shard
from agora.experiment.spec import load_spec
from agora.run.debate import Debate
from agora.tasks import TaskItem, extract, gold_value
from agora.transcript import EndEvent, Header, Transcript


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text)[:80]


def _reader(item: TaskItem) -> Callable[[str], str | None]:
    """Agents' answers are the item's canonical answers (a letter, yes/no, a number), so the vote, merging and
    early stopping compare exactly what is scored."""
    return lambda text: extract(item, text).value


def _models_run(t: Transcript, config: Configuration) -> list[str]:
    """The models that ran, as their backends described themselves in the transcript header (the served model,
    else the backend's name): a backend given for a card's model (``backends=``, ``backend=``) runs another model
    than the card names. The cards' models only when the run wrote no header."""
    described = t.events[0].models if t.events and isinstance(t.events[0], Header) else None
    if not described:
        return sorted({p.model for p in config.personas})
    return sorted({str(d.get("model") or d.get("name") or d.get("backend")) for d in described.values()})


# -- the sweep -------------------------------------------------------------------------------------------------
@dataclass
class SweepReport:
    out: Path
    rows: list[dict[str, Any]]
    ran: int
    skipped: int
    table: str


Notify = Callable[[str], None]


@dataclass(frozen=True)
class SweepProgress:
    """How far a sweep is, for a progress display: ``done`` of ``total`` runs finished, ``skipped`` of them by an
    earlier run of the same sweep. ``mark`` says how the run that just finished went ('right', 'wrong' or 'FAILED');
    it is empty in the notice sent before the first run."""

    name: str
    done: int
    total: int
    skipped: int
    mark: str = ""


ProgressCallback = Callable[[SweepProgress], None]


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
        shard: Shard | None = None,
    ):
        self.source = Path(spec_path)
        self.shard = shard
        self.spec = load_spec(self.source)
        if items is not None and items < 1:
            raise ConfigError(f"--items must be at least 1, got {items}", field="--items")
        default = self.spec.name + (f"-shard-{shard[0]}-of-{shard[1]}" if shard is not None else "")
        self.out = Path(out) if out is not None else Path("experiments") / default
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError("the output path exists and is not a directory", source=self.out)
        self.configs = configurations(self.spec, self.source)
        self.contrasts = resolve_contrasts(self.spec.contrasts, self.configs, self.source)
        self.items, self.excluded = draw_items(self.spec, self.source, items)
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

    def default_concurrency(self) -> int:
        """How many items' debates run at once by default. With a model in this process (a transformers
        backend), enough debates that about 16 agents' requests can meet in one batch: 16 // the largest pool,
        between 1 and 8 (small models' batches of 16 fit in a few GB). With other backends (scripted, an
        endpoint, one given backend) 4, a small number that overlaps waiting without flooding a server."""
        local = self.backend is None and any(
            type(b).__module__.startswith("agora.backends.transformers") for b in self._backends.values()
        )
        if not local:
            return 4
        largest = max(len(c.personas) for c in self.configs)
        return max(1, min(8, 16 // largest))

    def my_jobs(self) -> list[tuple[Configuration, TaskItem]]:
        """The runs of this sweep, or of its shard, in the order a one-at-a-time run does them."""
        return [(c, i) for c, i in self.jobs() if in_shard(row_id(c.id, i), self.shard)]

    def run(
        self,
        notify: Notify | None = None,
        progress: ProgressCallback | None = None,
        *,
        concurrency: int | None = None,
    ) -> SweepReport:
        """Run the runs not yet in ``results.jsonl``, ``concurrency`` items' debates at once (default:
        :meth:`default_concurrency`). ``notify`` gets a line before the first run and one per finished run (with an
        ETA); ``progress`` the same moments as :class:`SweepProgress` notices."""
        notify = notify or (lambda line: None)
        progress = progress or (lambda p: None)
        workers = self.default_concurrency() if concurrency is None else concurrency
        if workers < 1:
            raise ConfigError(f"--concurrency must be at least 1, got {workers}", field="--concurrency")
        self.out.mkdir(parents=True, exist_ok=True)
        results = self.out / RESULTS
        rows = read_rows(results)
        done = {r["row_id"] for r in rows}
        jobs = self.my_jobs()
        todo = [(c, i) for c, i in jobs if row_id(c.id, i) not in done]
        skipped = len(jobs) - len(todo)
        self._write_configurations()
        notify(
            f"experiment {self.spec.name}: {len(self.configs)} configurations x {len(self.items)} items = "
            f"{len(jobs)} runs" + (f"; {skipped} already done, {len(todo)} to run" if skipped else "")
        )
        progress(SweepProgress(self.spec.name, skipped, len(jobs), skipped))
        start = time.perf_counter()
        fresh: dict[int, dict[str, Any]] = {}

        def finished(index: int, row: dict[str, Any]) -> None:
            fresh[index] = row
            config, item = todo[index]
            k = len(fresh)
            elapsed = time.perf_counter() - start
            eta = elapsed / k * (len(todo) - k)
            mark = "right" if row["correct"] else ("FAILED" if row["status"] != "completed" else "wrong")
            notify(
                f"[{skipped + k}/{len(jobs)}] {config.label} · {item.key}: {mark} "
                f"({row['wall_s']:.1f} s) · ETA {_eta(eta)}"
            )
            progress(SweepProgress(self.spec.name, skipped + k, len(jobs), skipped, mark))

        with results.open("a", encoding="utf-8") as fh:
            asyncio.run(self._run_all(todo, workers, fh, finished))
        if list(fresh) != sorted(fresh):  # finished out of order: write the file a one-at-a-time run writes
            self._rewrite(results, rows + [fresh[k] for k in sorted(fresh)])
        rows += [fresh[k] for k in sorted(fresh)]
        wanted = {row_id(c.id, i) for c, i in jobs}
        mine = [r for r in rows if r["row_id"] in wanted]
        return SweepReport(self.out, mine, len(todo), skipped, self._write_summaries(mine))

    async def _run_all(
        self,
        todo: list[tuple[Configuration, TaskItem]],
        workers: int,
        fh: Any,
        finished: Callable[[int, dict[str, Any]], None],
    ) -> None:
        """Every run of ``todo``, at most ``workers`` at once; each row is appended to ``fh`` as its run ends. An
        error that is not a failed debate (those are rows) cancels the runs in flight and is raised."""
        gate = asyncio.Semaphore(workers)

        async def one(index: int) -> None:
            async with gate:
                row = await self._run_one(*todo[index])
            append_row(fh, row)
            finished(index, row)

        tasks = [asyncio.create_task(one(k)) for k in range(len(todo))]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    def _rewrite(results: Path, rows: list[dict[str, Any]]) -> None:
        """Replace ``results`` with ``rows`` in one step."""
        tmp = results.with_name(f".{results.name}.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                append_row(fh, row)
        os.replace(tmp, results)

    def write_merged(self, rows: list[dict[str, Any]]) -> SweepReport:
        """Write merged shards' ``rows`` (already checked, in run order) as this sweep's results and summaries."""
        self.out.mkdir(parents=True, exist_ok=True)
        self._write_configurations()
        self._rewrite(self.out / RESULTS, rows)
        return SweepReport(self.out, rows, 0, len(rows), self._write_summaries(rows))

    def rescore(self, notify: Notify | None = None) -> SweepReport:
        """Score the finished rows of this sweep again from their transcripts (after a change to answer reading
        or scoring), without running anything; rows of other configurations or items are kept as they are.
        results.jsonl is replaced in one step."""
        notify = notify or (lambda line: None)
        results = self.out / RESULTS
        if not results.is_file():
            raise ConfigError("no results to score again: run the sweep first", source=results)
        rows = read_rows(results)
        jobs = {row_id(c.id, i): (c, i) for c, i in self.jobs()}
        mine, changed = [], 0
        for row in rows:
            job = jobs.get(row["row_id"])
            path = self.out / str(row.get("transcript", ""))
            if job is None or not path.is_file():
                continue
            config, item = job
            fresh = score_transcript(item, Transcript.load(path), config.seed)
            changed += any(row.get(k) != v for k, v in fresh.items())
            row.update(fresh)
            mine.append(row)
        self._rewrite(results, rows)
        notify(f"rescored {len(mine)} rows from their transcripts; {changed} changed")
        return SweepReport(self.out, mine, 0, len(mine), self._write_summaries(mine))

    def _write_summaries(self, mine: list[dict[str, Any]]) -> str:
        """results.csv, summary.md, summary.json and budget.json for this sweep's rows; returns the table."""
        write_csv(mine, self.out / "results.csv")
        table = summary_table(mine)
        pools = {c.pool: pool_diversity(c.personas) for c in self.configs}
        if len(pools) > 1:
            table += (
                "\n\n## Diversity\n\nThe same results per protocol and pool, with each pool's size, model families "
                "and value diversity (mean pairwise total variation distance of the stated values; "
                "docs/experiments.md).\n\n" + diversity_table(mine, pools)
            )
        budget = self._budget(mine)
        if budget:
            table += (
                "\n\n## Self-consistency at the same token budget\n\nEach system beside self-consistency read, item "
                "by item, at the tokens that system generated: its samples in order while their tokens stay within "
                "the budget; 'short': items where all samples together stayed under it (docs/experiments.md).\n\n"
                + budget_table(budget)
            )
            (self.out / "budget.json").write_text(json.dumps(budget, indent=1) + "\n", encoding="utf-8")
        table += self._checks(mine)
        (self.out / "summary.md").write_text(self._summary(table), encoding="utf-8")
        records = json.dumps(summary_records(mine), indent=1, ensure_ascii=False)
        (self.out / "summary.json").write_text(records + "\n", encoding="utf-8")
        return table

    def _checks(self, mine: list[dict[str, Any]]) -> str:
        """The sections after the tables above (:mod:`agora.experiment.checks`); writes checks.json and, with
        contrasts in the spec, contrasts.json."""
        found = check_sections(
            mine,
            options=option_counts(self.items),
            agent_models={c.id: {p.name: p.model for p in c.personas} for c in self.configs},
            excluded=self.excluded,
            contrasts=self.contrasts,
        )
        if found.contrasts is not None:
            text = json.dumps(found.contrasts, indent=1) + "\n"
            (self.out / "contrasts.json").write_text(text, encoding="utf-8")
        (self.out / "checks.json").write_text(json.dumps(found.records, indent=1) + "\n", encoding="utf-8")
        return found.markdown

    async def _run_one(self, config: Configuration, item: TaskItem) -> dict[str, Any]:
        rid = row_id(config.id, item)
        transcript = self.out / "transcripts" / config.id / f"{_safe(item.task)}-{_safe(item.id)}.jsonl"
        debate = self._debate(config)
        started = time.perf_counter()
        try:
            result = await debate.run(item.prompt(), out=transcript, read_answer=_reader(item))
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
            "models": _models_run(t, config),
            "kind": item.kind,
            "gold": gold_value(item),
            **score_transcript(item, t, config.seed),
            "wall_s": round(wall, 3),
            "transcript": str(transcript.relative_to(self.out)),
        }
        return {k: row[k] for k in COLUMNS}

    def _budget(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Self-consistency at each named system's budget (``budget_of`` in the spec), per pair of configurations
        with the same seed."""
        wants = {e.name: e.budget_of for e in self.spec.protocols if e.budget_of}
        by_config: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_config.setdefault(r["config_id"], []).append(r)
        records: list[dict[str, Any]] = []
        for sc in self.configs:
            for system in self.configs:
                if system.protocol_name in wants.get(sc.protocol_name, []) and system.seed == sc.seed:
                    pairs = matched(by_config.get(system.id, []), by_config.get(sc.id, []))
                    if pairs:
                        name = f"{system.protocol_name} · {system.graph} · {system.pool}"
                        records += budget_records(pairs, name, f"{sc.protocol_name} · {sc.pool}")
        return records

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
                "diversity": pool_diversity(c.personas),
            }
            for c in self.configs
        }
        path = self.out / "configurations.json"
        path.write_text(json.dumps(described, indent=2) + "\n", encoding="utf-8")

    def _summary(self, table: str) -> str:
        counts = Counter(i.task for i in self.items)
        tasks = ", ".join(f"{task} ({n} items)" for task, n in counts.items())
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
    rescore: bool = False,
    progress: ProgressCallback | None = None,
    concurrency: int | None = None,
    shard: Shard | None = None,
) -> SweepReport:
    """Run (or finish) the sweep a spec describes, or only score its finished rows again; see :class:`Sweep`."""
    sweep = Sweep(spec_path, out, items=items, backend=backend, shard=shard)
    return sweep.rescore(notify) if rescore else sweep.run(notify, progress, concurrency=concurrency)
