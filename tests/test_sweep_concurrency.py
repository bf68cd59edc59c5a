"""Many debates in flight and shards of a sweep, on a scripted backend: the rows must not depend on either."""

from __future__ import annotations

import asyncio
import json

import pytest
from test_experiment import oracle, write_spec

from agora import ScriptedBackend
from agora.cli import main
from agora.errors import ConfigError
from agora.experiment import Sweep, read_rows, run_experiment
from agora.experiment.merge import merge_shards
from agora.experiment.shards import in_shard, parse_shard
from agora.transcript import Transcript


def without_timing(rows):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


def untimed_summary(out):
    """summary.json without the mean seconds per run, which differ from run to run."""
    records = json.loads((out / "summary.json").read_text())
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


def transcript_texts(out, rows):
    """Each row's transcript as its messages' (round, agent, phase, text): what the agents said, not when."""
    return {
        r["row_id"]: [
            (m.round, m.agent, m.phase, m.text) for m in Transcript.load(out / r["transcript"]).messages
        ]
        for r in rows
    }


@pytest.mark.parametrize("concurrency", [1, 4])
def test_that_many_runs_are_in_flight(tmp_path, monkeypatch, concurrency):
    spec = write_spec(tmp_path)
    flight = {"now": 0, "most": 0}
    original = Sweep._run_one

    async def counted(self, config, item):
        flight["now"] += 1
        flight["most"] = max(flight["most"], flight["now"])
        try:
            return await original(self, config, item)
        finally:
            flight["now"] -= 1

    monkeypatch.setattr(Sweep, "_run_one", counted)
    backend = ScriptedBackend(oracle(), delay_s=0.001)
    run_experiment(spec, tmp_path / "out", backend=backend, concurrency=concurrency)
    assert flight["most"] == concurrency


def test_concurrent_sweep_writes_the_rows_of_a_serial_one(tmp_path, monkeypatch):
    spec = write_spec(tmp_path)
    serial_backend = ScriptedBackend(oracle({"hygieia"}))
    serial = run_experiment(spec, tmp_path / "serial", backend=serial_backend, concurrency=1)
    # the first run is held back, so the runs finish out of order and the file must be put back in order
    started, finished = [], []
    original = Sweep._run_one

    async def first_last(self, config, item):
        started.append((config.id, item.key))
        if len(started) == 1:
            await asyncio.sleep(0.3)
        row = await original(self, config, item)
        finished.append((config.id, item.key))
        return row

    monkeypatch.setattr(Sweep, "_run_one", first_last)
    concurrent_backend = ScriptedBackend(oracle({"hygieia"}), delay_s=0.002)
    concurrent = run_experiment(spec, tmp_path / "many", backend=concurrent_backend, concurrency=4)
    assert finished != started and sorted(finished) == sorted(started)
    assert concurrent.ran == serial.ran == len(serial.rows) == 56
    serial_file = read_rows(tmp_path / "serial" / "results.jsonl")
    many_file = read_rows(tmp_path / "many" / "results.jsonl")
    assert without_timing(many_file) == without_timing(serial_file)  # same rows, same order, once each
    assert without_timing(concurrent.rows) == without_timing(serial.rows)
    assert transcript_texts(tmp_path / "many", many_file) == transcript_texts(
        tmp_path / "serial", serial_file
    )
    assert untimed_summary(tmp_path / "many") == untimed_summary(tmp_path / "serial")


def test_concurrent_sweep_resumes_and_reports_progress(tmp_path):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    serial = run_experiment(spec, tmp_path / "serial", backend=ScriptedBackend(oracle()), concurrency=1)
    run_experiment(spec, out, backend=ScriptedBackend(oracle()), concurrency=4)
    results = out / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[:20]) + lines[20][:30])  # a kill: 20 rows kept and a cut line
    notices, lines_seen = [], []
    again = run_experiment(
        spec,
        out,
        backend=ScriptedBackend(oracle(), delay_s=0.001),
        concurrency=3,
        progress=notices.append,
        notify=lines_seen.append,
    )
    assert again.skipped == 20 and again.ran == 36
    assert without_timing(read_rows(results)) == without_timing(serial.rows)
    assert [n.done for n in notices] == list(range(20, 57)) and all(n.total == 56 for n in notices)
    assert all("ETA" in line for line in lines_seen[1:]) and len(lines_seen) == 37


def test_a_failed_row_stays_failed_under_concurrency(tmp_path):
    spec = write_spec(tmp_path)

    def reply(req):
        if req.agent in ("hygieia", "aequitas"):
            raise RuntimeError("model crashed")
        return "Answer: yes."

    report = run_experiment(
        spec, tmp_path / "out", backend=ScriptedBackend(reply, delay_s=0.001), concurrency=5
    )
    trio = [r for r in report.rows if r["pool"] == "trio"]
    assert len(report.rows) == 56 and trio and all(r["status"] == "failed" for r in trio)
    assert all(r["status"] == "completed" for r in report.rows if r["pool"] == "alone")


def test_an_error_that_is_no_failed_debate_stops_the_sweep(tmp_path, monkeypatch):
    spec = write_spec(tmp_path)
    sweep = Sweep(spec, tmp_path / "out", backend=ScriptedBackend(oracle()))
    calls = []
    original = Sweep._run_one

    async def broken(self, config, item):
        calls.append(item.key)
        if len(calls) == 3:
            raise OSError("disk gone")
        return await original(self, config, item)

    monkeypatch.setattr(Sweep, "_run_one", broken)
    with pytest.raises(OSError, match="disk gone"):
        sweep.run(concurrency=4)
    rows = read_rows(tmp_path / "out" / "results.jsonl")
    assert len(rows) < 56 and len({r["row_id"] for r in rows}) == len(rows)


def test_concurrency_must_be_positive_and_has_a_default(tmp_path):
    spec = write_spec(tmp_path)
    sweep = Sweep(spec, tmp_path / "out", backend=ScriptedBackend(oracle()))
    assert sweep.default_concurrency() == 4
    with pytest.raises(ConfigError, match="at least 1"):
        sweep.run(concurrency=0)


def test_parse_shard():
    assert parse_shard("0/3") == (0, 3) and parse_shard(" 2 / 3 ") == (2, 3)
    for bad in ("3/3", "1/0", "a/3", "-1/3", "1"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)
    ids = [f"{k:016x}" for k in range(30)]
    assert [sum(in_shard(i, (s, 3)) for s in range(3)) for i in ids] == [1] * 30


def run_shards(spec, tmp_path, count=3):
    dirs = []
    for index in range(count):
        out = tmp_path / f"shard{index}"
        run_experiment(spec, out, backend=ScriptedBackend(oracle({"aequitas"})), shard=(index, count))
        dirs.append(out)
    return dirs


def test_three_shards_merged_are_one_serial_run(tmp_path):
    spec = write_spec(tmp_path)
    serial = run_experiment(
        spec, tmp_path / "serial", backend=ScriptedBackend(oracle({"aequitas"})), concurrency=1
    )
    dirs = run_shards(spec, tmp_path)
    parts = [read_rows(d / "results.jsonl") for d in dirs]
    assert all(parts) and sum(map(len, parts)) == 56  # every shard ran some rows, together each row once
    assert len({r["row_id"] for p in parts for r in p}) == 56
    merged = merge_shards(Sweep(spec, tmp_path / "merged"), dirs)
    assert len(merged.rows) == 56
    merged_file = read_rows(tmp_path / "merged" / "results.jsonl")
    assert without_timing(merged_file) == without_timing(serial.rows)
    assert transcript_texts(tmp_path / "merged", merged_file) == transcript_texts(
        tmp_path / "serial", serial.rows
    )
    assert untimed_summary(tmp_path / "merged") == untimed_summary(tmp_path / "serial")
    for name in ("checks.json", "configurations.json"):
        assert (tmp_path / "merged" / name).read_text() == (tmp_path / "serial" / name).read_text(), name


def test_merge_names_duplicate_missing_and_foreign_rows(tmp_path):
    spec = write_spec(tmp_path)
    dirs = run_shards(spec, tmp_path)
    with pytest.raises(ConfigError, match=r"rows in no shard: [0-9a-f]{16} \("):
        merge_shards(Sweep(spec, tmp_path / "m1"), dirs[:2])
    with pytest.raises(
        ConfigError, match=r"in more than one shard: [0-9a-f]{16} .* in .*shard0 and .*shard0"
    ):
        merge_shards(Sweep(spec, tmp_path / "m2"), [*dirs, dirs[0]])
    with pytest.raises(ConfigError, match="not rows of this sweep"):
        merge_shards(Sweep(spec, tmp_path / "m3", items=1), dirs)
    assert not (tmp_path / "m1").exists() and not (tmp_path / "m2").exists()
    row = read_rows(dirs[1] / "results.jsonl")[0]
    (dirs[1] / row["transcript"]).unlink()
    with pytest.raises(ConfigError, match="without their transcript"):
        merge_shards(Sweep(spec, tmp_path / "m4"), dirs)


def test_cli_merge_and_shard_errors(tmp_path, capsys):
    spec = write_spec(tmp_path)
    dirs = run_shards(spec, tmp_path)
    out = tmp_path / "merged"
    assert main(["merge", str(spec), *map(str, dirs), "--out", str(out)]) == 0
    assert "merged 56 rows from 3 shards" in capsys.readouterr().out
    assert len(read_rows(out / "results.jsonl")) == 56
    assert main(["merge", str(spec), *map(str, dirs), "--out", str(out)]) == 2  # results there already
    assert "already holds results" in capsys.readouterr().err
    assert main(["experiment", str(spec), "--out", str(tmp_path / "x"), "--shard", "3/3"]) == 2
    assert "--shard" in capsys.readouterr().err
    # a shard's default output directory says which shard it is
    assert Sweep(spec, shard=(1, 3)).out.name == "tiny-shard-1-of-3"
    assert json.loads((out / "summary.json").read_text())


REAL_SPEC = """
name: real-tiny
tasks:
  - {task: boolq, n: 1}
  - {task: arc-easy, n: 1}
protocols:
  - {protocol: single, pools: [alone]}
  - {protocol: vote, pools: [trio]}
pools:
  trio: [{persona: empirica}, {persona: hygieia}, {persona: aequitas}]
  alone: [{persona: empirica}]
seeds: [0]
"""


@pytest.mark.slow
def test_real_model_concurrent_rows_match_serial(tmp_path):
    """Greedy decoding on the embedded model: batched with other items' agents, the rows are those of a serial run."""
    spec = write_spec(tmp_path, REAL_SPEC)
    serial = Sweep(spec, tmp_path / "serial").run(concurrency=1)
    concurrent = Sweep(spec, tmp_path / "many").run(concurrency=4)
    assert len(serial.rows) == 4 and all(r["status"] == "completed" for r in serial.rows)
    assert without_timing(concurrent.rows) == without_timing(serial.rows)
