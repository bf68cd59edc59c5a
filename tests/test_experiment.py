"""The experiment runner on a scripted backend: the sweep, the rows, resume after a kill, spec errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agora import ScriptedBackend
from agora.cli import main
from agora.errors import ConfigError
from agora.experiment import COLUMNS, Sweep, read_rows, run_experiment
from agora.tasks import gold_value, load_task
from agora.transcript import Transcript

REPO = Path(__file__).resolve().parent.parent

SPEC = """
name: tiny
tasks:
  - {task: boolq, n: 2}
  - {task: arc-easy, n: 2}
protocols:
  - {protocol: single, pools: [alone]}
  - vote
  - {protocol: task_debate, rounds: 2}
graphs: [complete, ring]
pools:
  trio: [{persona: empirica}, {persona: hygieia}, {persona: aequitas}]
  alone: [{persona: empirica}]
seeds: [0, 1]
"""


def write_spec(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def oracle(wrong: set[str] = frozenset()):
    """Agents answer every item right (read back from the prompt), except those in ``wrong``."""
    items = {i.prompt(): i for t in ("boolq", "arc-easy") for i in load_task(t, 2)}

    def reply(req):
        if req.phase == "critique":
            return "Critique: looks fine."
        prompt = req.messages[-1].content
        item = next(i for p, i in items.items() if p in prompt)
        gold = gold_value(item)
        if req.agent in wrong:
            gold = {"yes": "no", "no": "yes"}.get(gold, "A" if gold != "A" else "B")
        return f"Answer: {gold}. Because."

    return reply


def test_sweep_writes_rows_summary_and_transcripts(tmp_path):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    report = run_experiment(spec, out, backend=ScriptedBackend(oracle({"hygieia", "aequitas"})))
    # single: alone x 2 seeds (graph does not matter); vote: 2 pools x 2 seeds; task_debate: 2 graphs x 2 pools x 2
    assert len(report.rows) == 4 * (2 + 4 + 8) and report.ran == len(report.rows) and report.skipped == 0
    rows = read_rows(out / "results.jsonl")
    assert [list(r) for r in rows] == [COLUMNS] * len(rows)
    assert len({r["row_id"] for r in rows}) == len(rows)
    assert {r["graph"] for r in rows if r["protocol"] == "task_debate"} == {"complete", "ring"}
    assert {r["graph"] for r in rows if r["protocol"] != "task_debate"} == {"none"}
    for r in rows:
        assert r["status"] == "completed" and (out / r["transcript"]).is_file()
        assert r["completion_tokens"] > 0 and r["prompt_tokens"] > 0 and r["wall_s"] >= 0
    trio_vote = [r for r in rows if r["protocol"] == "vote" and r["pool"] == "trio"]
    # empirica is right, the other two wrong: the majority and the vote are wrong, empirica alone is right
    assert all(not r["correct"] and not r["majority_correct"] for r in trio_vote)
    assert all(
        r["members_correct"] == {"empirica": True, "hygieia": False, "aequitas": False} for r in trio_vote
    )
    single = [r for r in rows if r["protocol"] == "single"]
    assert all(r["correct"] and r["agents"] == 1 for r in single)
    debates = [r for r in rows if r["protocol"] == "task_debate"]
    assert all(r["stopped"] == "stable" and r["rounds_run"] == 1 for r in debates)
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].split(",")[:3] == COLUMNS[:3] and len(csv_lines) == len(rows) + 1
    summary = (out / "summary.md").read_text()
    assert "| boolq | vote | none | trio | 4 | 0.0 |" in summary
    assert "| all | single | none | alone | 8 | 100.0 |" in summary
    records = json.loads((out / "summary.json").read_text())
    single_all = next(r for r in records if r["task"] == "all" and r["protocol"] == "single")
    assert (
        single_all["n"] == 8 and single_all["accuracy"] == 1.0 and single_all["members"] == {"empirica": 1.0}
    )
    vote_boolq = next(
        r for r in records if r["task"] == "boolq" and r["protocol"] == "vote" and r["pool"] == "trio"
    )
    assert vote_boolq["accuracy"] == 0.0 and vote_boolq["best_member"] == 1.0 and vote_boolq["ci"][0] == 0.0
    configs = json.loads((out / "configurations.json").read_text())
    assert len(configs) == 14
    # the diversity effect: each pool's descriptors beside its results
    assert "## Diversity" in summary and "| single | alone | 1 | 1 | 0.00 | 8 | 100.0 |" in summary
    alone = next(c for c in configs.values() if c["pool"] == "alone")
    assert alone["diversity"] == {"size": 1, "models": 1, "families": 1, "value_diversity": 0.0}


def test_rerun_skips_finished_rows_and_repairs_a_cut_line(tmp_path):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    backend = ScriptedBackend(oracle())
    first = run_experiment(spec, out, backend=backend)
    calls = len(backend.requests)
    again = run_experiment(spec, out, backend=backend)
    assert again.ran == 0 and again.skipped == len(first.rows) and len(backend.requests) == calls
    # a kill mid-write leaves a cut-off last line: it is dropped and its item runs again
    results = out / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[:-3]) + lines[-3][:40])
    third = run_experiment(spec, out, backend=backend)
    assert third.ran == 3 and third.skipped == len(first.rows) - 3
    assert sorted(r["row_id"] for r in read_rows(results)) == sorted(r["row_id"] for r in first.rows)
    # more items later: only the new ones run
    bigger = run_experiment(spec, out, backend=backend, items=3)
    assert bigger.skipped == len(first.rows) and bigger.ran == len(first.rows) // 2


KILL_SCRIPT = """
import sys, time
from agora import ScriptedBackend
from agora.experiment import run_experiment

def reply(req):
    time.sleep(0.05)
    return "Critique: ok." if req.phase == "critique" else "Answer: yes."

run_experiment(sys.argv[1], sys.argv[2], backend=ScriptedBackend(reply), notify=lambda line: print(line, flush=True))
"""


def test_killed_sweep_finishes_without_repeating(tmp_path):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    script = tmp_path / "sweep.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, str(script), str(spec), str(out)], stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdout is not None
        progress = [proc.stdout.readline() for _ in range(6)]  # header line + 5 finished items
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert "ETA" in progress[-1]
    done = read_rows(out / "results.jsonl")
    assert 5 <= len(done) < 56
    resumed = run_experiment(spec, out, backend=ScriptedBackend(lambda r: "Answer: yes."))
    assert resumed.skipped == len(done) and resumed.ran == 56 - len(done)
    rows = read_rows(out / "results.jsonl")
    assert len(rows) == 56 and len({r["row_id"] for r in rows}) == 56


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SPEC.replace("name: tiny", "name: tiny\nbogus: 1"), "field 'bogus': unknown field"),
        (SPEC.replace("task: boolq", "task: boolqq"), "field 'tasks.0.task'.*unknown task 'boolqq'"),
        (SPEC.replace("pools: [alone]", "pools: [nobody]"), "unknown pool 'nobody'"),
        (
            SPEC.replace("persona: hygieia", "persona: nobody"),
            "field 'pools.trio.1.persona'.*no persona card",
        ),
        (
            SPEC.replace("protocol: single", "protocol: nosuch"),
            "field 'protocols.0.protocol'.*unknown protocol",
        ),
        (SPEC.replace("graphs: [complete, ring]", "graphs: [circle]"), "field 'graphs.0.kind'"),
        (SPEC.replace("seeds: [0, 1]", "seeds: [1, 1]"), "field 'seeds'.*distinct"),
        (SPEC.replace("- vote", "- {protocol: vote, budget_of: [debate]}"), "budget_of names 'debate'"),
    ],
)
def test_spec_errors_name_file_and_field(tmp_path, text, message):
    spec = write_spec(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        Sweep(spec, tmp_path / "out", backend=ScriptedBackend(lambda r: "x"))
    assert str(spec) in str(info.value)
    assert not (tmp_path / "out").exists()


def test_cli_reports_spec_error_with_status_2(tmp_path, capsys):
    spec = write_spec(tmp_path, SPEC.replace("n: 2", "n: 0", 1))
    assert main(["experiment", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "spec.yaml" in err and "tasks.0.n" in err
    assert not (tmp_path / "out").exists()


def test_shipped_example_spec_is_valid():
    for path in sorted((REPO / "examples").glob("*.yaml")):
        sweep = Sweep(path, backend=ScriptedBackend(lambda r: "Answer: yes."))
        assert sweep.configs and sweep.items


def test_a_failed_debate_is_a_failed_row_and_the_sweep_goes_on(tmp_path):
    spec = write_spec(tmp_path)

    def reply(req):
        if req.agent in ("hygieia", "aequitas"):  # two of three fail: below the quorum of one half
            raise RuntimeError("model crashed")
        return "Answer: yes."

    report = run_experiment(spec, tmp_path / "out", backend=ScriptedBackend(reply))
    trio = [r for r in report.rows if r["pool"] == "trio"]
    alone = [r for r in report.rows if r["pool"] == "alone"]
    assert trio and all(r["status"] == "failed" and not r["correct"] for r in trio)
    assert all("quorum" in r["error"] for r in trio)
    assert alone and all(r["status"] == "completed" for r in alone)
    assert "| all | vote | none | trio | 8 | 0.0 |" in (tmp_path / "out" / "summary.md").read_text()


def test_pool_entries_copy_and_change_cards(tmp_path):
    spec = write_spec(
        tmp_path,
        """
        name: pools
        tasks: [{task: strategy-qa, n: 1}]
        protocols: [self_consistency]
        pools:
          sampled: [{persona: empirica, copies: 3, temperature: 0.5, max_new_tokens: 20}]
          renamed: [{persona: empirica}, {persona: empirica, name: empirica-b, model: other-model}]
        """,
    )
    sweep = Sweep(spec, tmp_path / "out", backend=ScriptedBackend(lambda r: "Answer: yes."))
    by_pool = {c.pool: c.personas for c in sweep.configs}
    assert [p.name for p in by_pool["sampled"]] == ["empirica-1", "empirica-2", "empirica-3"]
    assert {(p.generation.temperature, p.generation.max_new_tokens) for p in by_pool["sampled"]} == {
        (0.5, 20)
    }
    assert [(p.name, p.model) for p in by_pool["renamed"]] == [
        ("empirica", "smollm2-135m-instruct"),
        ("empirica-b", "other-model"),
    ]
    ids = [c.id for c in sweep.configs]
    assert len(set(ids)) == 2


def test_self_consistency_is_read_at_the_systems_token_budget(tmp_path):
    spec = write_spec(
        tmp_path,
        """
        name: budget
        tasks: [{task: boolq, n: 2}, {task: arc-easy, n: 2}]
        protocols:
          - {protocol: vote, pools: [trio]}
          - {protocol: self_consistency, pools: [sampled], budget_of: [vote]}
        pools:
          trio: [{persona: empirica}, {persona: hygieia}, {persona: aequitas}]
          sampled: [{persona: empirica, copies: 4, temperature: 0.5}]
        """,
    )
    out = tmp_path / "out"
    # every reply is three words (three scripted tokens); the trio's majority is wrong, and so is sample 1 of 4
    report = run_experiment(spec, out, backend=ScriptedBackend(oracle({"hygieia", "aequitas", "empirica-1"})))
    sc = [r for r in report.rows if r["protocol"] == "self_consistency"]
    assert all(r["member_tokens"] == {f"empirica-{i}": 3 for i in range(1, 5)} for r in sc)
    records = json.loads((out / "budget.json").read_text())
    everything = next(r for r in records if r["task"] == "all")
    # the vote generated 9 tokens per item: three samples fit (wrong, right, right), the fourth does not
    assert (
        everything["system"] == "vote · none · trio"
        and everything["self_consistency"] == "self_consistency · sampled"
    )
    assert (everything["n"], everything["budget"], everything["samples"], everything["tokens"]) == (
        4,
        9,
        3,
        9,
    )
    assert (everything["system_accuracy"], everything["accuracy"], everything["short"]) == (0.0, 1.0, 0)
    summary = (out / "summary.md").read_text()
    assert "## Self-consistency at the same token budget" in summary
    assert "| all | vote · none · trio | 0.0 | 9 | self_consistency · sampled | 100.0 |" in summary


def test_mediator_synthesis_runs_on_task_items_and_its_revised_answer_is_scored(tmp_path):
    spec = write_spec(
        tmp_path,
        """
        name: mediated
        tasks: [{task: boolq, n: 2}]
        protocols: [task_deliberation]
        pools: {trio: [{persona: empirica}, {persona: hygieia}, {persona: aequitas}]}
        """,
    )
    # two members are wrong on their own; the mediator (on the pool's common model) answers right; the agents rank
    # the drafts by a scripted likelihood (the first draft best)
    backend = ScriptedBackend(
        oracle({"hygieia", "aequitas"}), scorer=lambda req: [-float(i) for i in range(len(req.continuations))]
    )
    report = run_experiment(spec, tmp_path / "out", backend=backend)
    assert len(report.rows) == 2
    for r in report.rows:
        assert r["status"] == "completed" and r["correct"] and not r["majority_correct"]
        assert r["members_correct"] == {"empirica": True, "hygieia": False, "aequitas": False}
        phases = {m.phase for m in Transcript.load(tmp_path / "out" / r["transcript"]).messages}
        assert {"propose", "draft", "critique_draft", "revise_draft"} <= phases


def test_agents_answers_are_read_as_the_items_canonical_answers(tmp_path):
    spec = write_spec(
        tmp_path,
        """
        name: canonical
        tasks: [{task: boolq, n: 1}]
        protocols: [{protocol: task_debate, rounds: 2}]
        pools: {trio: [{persona: empirica}, {persona: hygieia}, {persona: aequitas}]}
        """,
    )
    gold = gold_value(load_task("boolq", 1)[0])
    wrong = {"yes": "no", "no": "yes"}[gold]
    # three wordings; two of them give the right answer, one the wrong answer: two candidates, not three
    replies = {
        "empirica": f"Answer: {gold}. Because the passage says so.",
        "hygieia": f"{gold.capitalize()}, clearly, from the passage.",
        "aequitas": f"I would say {wrong}.",
    }
    backend = ScriptedBackend(lambda req: "It reads well." if req.phase == "critique" else replies[req.agent])
    report = run_experiment(spec, tmp_path / "out", backend=backend)
    (row,) = report.rows
    t = Transcript.load(tmp_path / "out" / row["transcript"])
    assert {m.answer for m in t.messages if m.kind in ("propose", "revise")} == {gold, wrong}
    assert t.outcome.candidates == {"empirica": gold, "aequitas": wrong}
    assert t.outcome.members["empirica"] == ["empirica", "hygieia"]
    # the same canonical answers in round 2: the debate stops as stable, and the vote's answer is scored
    assert row["stopped"] == "stable" and row["answer"] == gold and row["correct"]


def test_an_unreadable_reply_is_not_read_from_its_first_line(tmp_path):
    spec = write_spec(
        tmp_path,
        """
        name: unreadable
        tasks: [{task: arc-easy, n: 2}]
        protocols: [single]
        pools: {alone: [{persona: empirica}]}
        """,
    )
    golds = {i.prompt(): gold_value(i) for i in load_task("arc-easy", 2)}

    def restate(req):  # the options restated, the right one first: no answer as a whole
        gold = next(g for p, g in golds.items() if p in req.messages[-1].content)
        other = "B" if gold == "A" else "A"
        return f"{gold}. the first option\n{other}. the second option"

    report = run_experiment(spec, tmp_path / "out", backend=ScriptedBackend(restate))
    assert all(not r["correct"] and r["extracted"] is None for r in report.rows)


def test_rescore_reads_the_transcripts_again_and_runs_nothing(tmp_path, capsys):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    first = run_experiment(spec, out, backend=ScriptedBackend(oracle({"hygieia", "aequitas"})))
    results = out / "results.jsonl"
    rows = read_rows(results)
    stray = {**rows[0], "row_id": "not-this-sweep", "correct": "kept"}
    for r in rows:  # scores from an older reading: flipped
        r["correct"] = not r["correct"]
    results.write_text("".join(json.dumps(r) + "\n" for r in [*rows, stray]))
    backend = ScriptedBackend(lambda req: pytest.fail("rescoring must not call a model"))
    again = run_experiment(spec, out, backend=backend, rescore=True)
    assert again.ran == 0 and [r["correct"] for r in again.rows] == [r["correct"] for r in first.rows]
    kept = read_rows(results)
    assert len(kept) == len(rows) + 1 and kept[-1]["correct"] == "kept"
    assert (out / "summary.md").read_text().count("| all | vote | none | trio | 8 | 0.0 |") == 1
    assert main(["experiment", str(spec), "--out", str(tmp_path / "none"), "--rescore"]) == 2
    assert "no results to score again" in capsys.readouterr().err


def test_unknown_model_is_refused_before_anything_runs(tmp_path):
    spec = write_spec(
        tmp_path,
        """
        name: models
        tasks: [{task: strategy-qa, n: 1}]
        protocols: [vote]
        pools: {p: [{persona: empirica, model: no-such-model}]}
        """,
    )
    assert main(["experiment", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_an_item_drawn_twice_runs_once(tmp_path):
    spec = write_spec(
        tmp_path,
        """
        name: twice
        tasks: [{task: boolq, n: 3}, {task: boolq, n: 2}]
        protocols: [single]
        pools: {alone: [{persona: empirica}]}
        """,
    )
    report = run_experiment(spec, tmp_path / "out", backend=ScriptedBackend(lambda r: "Answer: yes."))
    assert report.ran == 3 and len({r["item_id"] for r in report.rows}) == 3
    assert "boolq (3 items)" in (tmp_path / "out" / "summary.md").read_text()


def test_rows_name_the_models_that_ran_not_the_cards(tmp_path):
    # the cards name SmolLM2; a backend given for every agent ran instead, and the rows say so, as the transcript
    # header (each backend's own description) does
    spec = write_spec(
        tmp_path,
        """
        name: stand-in
        tasks:
          - {task: boolq, n: 1}
        protocols:
          - {protocol: single, pools: [alone]}
          - {protocol: vote, pools: [duo]}
        pools:
          alone: [{persona: empirica}]
          duo: [{persona: empirica}, {persona: hygieia, model: "qwen@http://127.0.0.1:9/v1"}]
        seeds: [0]
        """,
    )
    out = tmp_path / "out"
    report = run_experiment(spec, out, backend=ScriptedBackend(oracle(), name="oracle-stand-in"))
    assert {r["status"] for r in report.rows} == {"completed"}
    for row in report.rows:
        header = Transcript.load(out / row["transcript"]).header
        assert {d["name"] for d in header.models.values()} == {"oracle-stand-in"}
        assert row["models"] == ["oracle-stand-in"]
    # the configurations keep the cards' models: what the spec asked for
    configs = json.loads((out / "configurations.json").read_text())
    duo = next(c for c in configs.values() if c["pool"] == "duo")
    assert sorted(duo["models"].values()) == ["qwen@http://127.0.0.1:9/v1", "smollm2-135m-instruct"]


def test_rows_fall_back_to_the_cards_models_without_a_header():
    from types import SimpleNamespace

    from agora.experiment.runner import _models_run

    config = SimpleNamespace(personas=[SimpleNamespace(model="b"), SimpleNamespace(model="a")])
    assert _models_run(Transcript(), config) == ["a", "b"]
