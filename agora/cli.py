"""The ``agora`` command line: run debates, list personas, show transcripts.

User errors print one line naming the file, field or agent and exit with status 2, writing nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from agora._version import __version__
from agora.errors import AgoraError, DebateError, one_line
from agora.files import check_out_path

if TYPE_CHECKING:
    from agora.persona import Persona
    from agora.run.debate import DebateResult
    from agora.views.progress import DebateProgress

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, reporting a bad command line as one line (naming the argument) with exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"agora: error: {self.prog}: {one_line(message)} (see: {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _default_out(protocol: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("transcripts") / f"{protocol}-{stamp}.jsonl"


def _progress(quiet: bool) -> DebateProgress | None:
    """The debate's progress display on stderr, or none with ``--quiet``."""
    from agora.views.progress import DebateProgress

    return None if quiet or sys.stderr is None else DebateProgress(sys.stderr)


def _finish(run: Callable[[], DebateResult], out: Path, progress: DebateProgress | None) -> int:
    """Run a debate (new or resumed) and print its outcome; a debate that fails is exit status 1. The progress
    display's open bar, if any, is closed before anything else is printed."""
    from agora.views.terminal import render_outcome

    try:
        with progress or contextlib.nullcontext():
            result = run()
    except DebateError as exc:
        _say(f"agora: debate failed: {exc}\ntranscript (marked failed): {out}")
        return 1
    print()
    print(f"Question: {result.transcript.header.question}")
    print("\n".join(render_outcome(result.outcome)))
    print(f"\nTranscript: {out}   (read it with: agora show {out})")
    return 0


@contextlib.contextmanager
def _printable_stdout() -> Iterator[None]:
    """While a command runs, what it prints shows control characters as escapes (model output and cards cannot
    drive the terminal)."""
    from agora.views.terminal import PrintableStream

    saved = sys.stdout
    if saved is not None:
        sys.stdout = PrintableStream(saved)
    try:
        yield
    finally:
        sys.stdout = saved


def _say(text: str) -> None:
    """Print to stderr when it can still be written to (a closed pipe must not change the exit status)."""
    from agora.views.terminal import printable

    with contextlib.suppress(OSError, AttributeError):
        print(printable(text), file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from agora.persona import load_personas
    from agora.run.debate import Debate, check_question

    question = check_question(args.question)
    if args.out:
        check_out_path(Path(args.out))
    personas = load_personas(args.personas)
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        known = {p.name for p in personas}
        for name in wanted:
            if name not in known:
                raise AgoraError(
                    f"no persona named {name!r} (have: {', '.join(sorted(known))})", field="--only"
                )
        personas = [p for p in personas if p.name in wanted]
    progress = _progress(args.quiet)
    debate = Debate(personas, args.protocol, seed=args.seed, rounds=args.rounds, progress=progress)
    out = Path(args.out) if args.out else _default_out(debate.protocol.name)
    check_out_path(out)
    if not args.quiet:
        d = debate.describe()
        _say(
            f"debate '{d['protocol']}': {len(d['agents'])} agents ({', '.join(d['agents'])}), {d['rounds']} rounds, "
            f"{d['edges']} edges, seed {d['seed']}"
        )
    return _finish(lambda: debate.run_sync(question, out=out), out, progress)


def cmd_resume(args: argparse.Namespace) -> int:
    from agora.protocol.spec import ProtocolSpec
    from agora.run.checkpoint import schedule
    from agora.run.resume import plan_resume, resume_sync

    transcript, checkpoint = plan_resume(args.file)
    out = Path(args.out) if args.out else Path(args.file)
    check_out_path(out)
    if not args.quiet:
        header = transcript.header
        total = len(schedule(ProtocolSpec.model_validate(header.protocol_spec)))
        after = checkpoint.after
        where = f"after round {after[0]}, phase {after[1]!r}" if after else "from the start"
        _say(
            f"resuming {args.file} ({checkpoint.status}): {len(checkpoint.done)} of {total} phases recorded, "
            f"continuing {where}; {checkpoint.discarded} later event(s) dropped"
        )
    progress = _progress(args.quiet)
    return _finish(lambda: resume_sync(args.file, out=out, progress=progress), out, progress)


def _endpoint_line(persona: Persona) -> str | None:
    """For a card whose model is served over HTTP: the URL and whether a key would be sent (from which variable)."""
    from agora.backends.registry import split_model_ref

    try:
        backend, ref = split_model_ref(persona.model, source=persona.source)
    except AgoraError:
        return None  # a backend no installed plugin provides: nothing to say about an endpoint
    if backend != "openai":
        return None
    from agora.backends.openai_backend import endpoint_line

    return endpoint_line(ref, persona.endpoint)


def cmd_personas(args: argparse.Namespace) -> int:
    from agora.persona import load_personas
    from agora.views.terminal import format_values

    for p in load_personas(args.personas):
        c = p.contributor
        print(f"{p.name}")
        print(f"  model:       {p.model}")
        endpoint = _endpoint_line(p)
        if endpoint is not None:
            print(f"  endpoint:    {endpoint}")
        print(f"  values:      {format_values(p.values)}")
        who = ", ".join(x for x in (c.name, c.licence, c.model_card, c.contact) if x) or "not stated"
        print(f"  contributor: {who}")
        print(f"  source:      {p.source}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from agora.backends.catalog import CATALOG, status

    width = max(len(name) for name in CATALOG)
    for entry in CATALOG.values():
        size = f"{entry.size_bytes / 2**20:.0f} MB" if entry.size_bytes else "size not pinned"
        print(f"{entry.name:<{width}}  {status(entry)}")
        print(f"{'':<{width}}  {entry.title}; {entry.licence}; {size}; prompt: {entry.prompt_format.kind}")
        print(f"{'':<{width}}  install: {entry.install_hint}")
    print(
        "\nA card may also name a model directory (safetensors), a .gguf file, or NAME@http://host:port/v1."
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from agora.transcript import Transcript
    from agora.views.terminal import render

    print(render(Transcript.load(args.file, strict=False)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from agora.views.html import write_report

    out = write_report(args.source, args.out)
    print(f"report: {out}")
    return 0


def cmd_protocols(args: argparse.Namespace) -> int:
    from agora.protocol.loader import list_protocols, load_protocol

    protocols = [load_protocol(path) for path in list_protocols()]
    protocols.sort(key=lambda p: (p.name != "debate", p.name))  # the default first
    width = max(len(p.name) for p in protocols)
    for p in protocols:
        phases = [ph.name for ph in p.spec.phases]
        if p.spec.mediation is not None:
            phases += p.mediation_phases()
        rounds = f"{p.spec.rounds} round{'s' if p.spec.rounds != 1 else ''}"
        print(f"{p.name:<{width}}  {rounds}, graph {p.spec.graph.kind}, phases: {', '.join(phases)}")
        if p.spec.description:
            print(f"{'':<{width}}  {p.spec.description}")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from agora.aggregation.registry import all_rules

    rules = all_rules()  # agora's and installed plugins'
    width = max(len(name) for name in rules)
    for info in rules.values():
        print(f"{info.name:<{width}}  {info.summary}")
    print(
        "\nEvery rule also runs value-weighted (aggregation.by_values: true): each ballot weighs by the question's "
        "relevance to the voter's stated values, measured by a judge model (agora.aggregation.relevance)."
    )
    return 0


def cmd_aggregate(args: argparse.Namespace) -> int:
    import json

    from agora.aggregation.ballot_file import load_ballots
    from agora.aggregation.outcome import aggregate
    from agora.aggregation.registry import all_rules, get_rule

    candidates, ballots = load_ballots(args.file)
    names = list(all_rules()) if args.rule == "all" else [get_rule(args.rule, field="--rule").name]
    results = []
    for name in names:
        try:
            results.append(aggregate(ballots, candidates, name, weighted=not args.unweighted, seed=args.seed))
        except AgoraError as exc:  # e.g. nash on non-positive utilities: say which rule, keep the others
            if len(names) == 1:
                raise AgoraError(f"{name}: {exc}", source=args.file) from None
            print(f"agora: {name} skipped: {exc}", file=sys.stderr)
    if args.json:
        payload = [
            {
                "rule": r.rule,
                "winner": r.winner,
                "winners": r.winners,
                "ranking": r.ranking,
                "scores": r.scores,
                "tie_break": r.tie_break,
                "margin": r.margin,
                "weighted": not args.unweighted,
                "ballots": len(ballots),
            }
            for r in results
        ]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return 0
    print(
        f"{len(ballots)} ballots, {len(candidates)} candidates, {'unweighted' if args.unweighted else 'weighted'}"
    )
    width = max(len(c) for c in candidates)
    for r in results:
        margin = f"  (margin {r.margin:.4g})" if r.margin is not None and not r.tie_break else ""
        print(f"\n{r.rule}: {r.winner}{margin}" + (f"  ({r.tie_break})" if r.tie_break else ""))
        for place, tier in enumerate(r.ranking, start=1):
            for c in tier:
                tie = " (tied)" if len(tier) > 1 else ""
                print(f"  {place:>2}. {c:<{width}}  {r.scores[c]:10.4g}{tie}")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from agora.experiment.runner import Sweep
    from agora.experiment.shards import parse_shard
    from agora.views.progress import SweepDisplay

    shard = parse_shard(args.shard) if args.shard else None
    sweep = Sweep(args.spec, args.out, items=args.items, shard=shard)
    if args.quiet:
        report = sweep.rescore() if args.rescore else sweep.run(concurrency=args.concurrency)
    else:
        with SweepDisplay(sys.stderr) as display:
            if args.rescore:
                report = sweep.rescore(display.notice)
            else:
                report = sweep.run(display.notice, display, concurrency=args.concurrency)
    print(report.table)
    print(
        f"\n{report.ran} runs now, {report.skipped} already done; results in {report.out}/results.jsonl "
        f"(and .csv), summary in {report.out}/summary.md"
    )
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from agora.experiment.merge import merge_shards
    from agora.experiment.runner import Sweep

    report = merge_shards(Sweep(args.spec, args.out, items=args.items), args.dirs)
    print(report.table)
    print(f"\nmerged {len(report.rows)} rows from {len(args.dirs)} shards into {report.out}/results.jsonl")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from agora.experiment.stats_command import stats_output

    print(stats_output(args.file, args.contrast, resamples=args.resamples, seed=args.seed, as_json=args.json))
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from agora.tasks import TASKS

    for info in TASKS.values():
        print(f"{info.name:<22} {info.summary}  [{info.package}]")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="agora", description="Debates between contributed language models.")
    parser.add_argument("--version", action="version", version=f"agora {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a debate")
    run.add_argument(
        "protocol", nargs="?", default="debate", help="shipped protocol name or spec file (default: debate)"
    )
    run.add_argument("--question", "-q", required=True, help="the question to debate")
    run.add_argument(
        "--personas",
        "-p",
        nargs="+",
        default=None,
        help="persona card files or directories (default: the shipped cards)",
    )
    run.add_argument("--only", help="comma-separated persona names to keep")
    run.add_argument("--rounds", type=int, default=None, help="override the protocol's number of rounds")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", "-o", help="transcript file (default: transcripts/PROTOCOL-TIME.jsonl)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.set_defaults(func=cmd_run)

    res = sub.add_parser("resume", help="continue a killed or failed debate from its transcript")
    res.add_argument("file", help="the transcript of the debate to continue")
    res.add_argument(
        "--out",
        "-o",
        help="write the resumed transcript here and leave FILE as it is (default: continue FILE)",
    )
    res.add_argument("--quiet", action="store_true", help="no progress output")
    res.set_defaults(func=cmd_resume)

    personas = sub.add_parser("personas", help="list persona cards")
    personas.add_argument(
        "personas", nargs="*", default=None, help="card files or directories (default: shipped)"
    )
    personas.set_defaults(func=cmd_personas)

    sub.add_parser("models", help="list the catalog models and whether they are installed").set_defaults(
        func=cmd_models
    )

    show = sub.add_parser("show", help="print a transcript readably")
    show.add_argument("file")
    show.set_defaults(func=cmd_show)

    report = sub.add_parser(
        "report",
        help="write an HTML report (plots, metrics, outcome) of a transcript or experiment directory",
    )
    report.add_argument("source", help="a transcript file, or a directory of them (read recursively)")
    report.add_argument(
        "--out", "-o", default="report.html", help="the HTML file to write (default: report.html)"
    )
    report.set_defaults(func=cmd_report)

    sub.add_parser("protocols", help="list the shipped protocols").set_defaults(func=cmd_protocols)
    sub.add_parser("rules", help="list the aggregation rules").set_defaults(func=cmd_rules)

    agg = sub.add_parser("aggregate", help="run an aggregation rule on a ballot file (JSON or YAML)")
    agg.add_argument("file", help="ballot file; see `agora.aggregation.ballot_file` for the format")
    agg.add_argument(
        "--rule", "-r", default="borda", help="rule name from `agora rules`, or 'all' (default: borda)"
    )
    agg.add_argument("--json", action="store_true", help="print the outcome as JSON")
    agg.add_argument("--unweighted", action="store_true", help="count every ballot once, ignoring weights")
    agg.add_argument("--seed", type=int, default=0, help="seed of the draw that breaks a tie for first")
    agg.set_defaults(func=cmd_aggregate)

    exp = sub.add_parser("experiment", help="run (or resume) an experiment sweep from a spec file")
    exp.add_argument("spec", help="experiment spec (YAML); see docs/experiments.md")
    exp.add_argument("--out", "-o", help="output directory (default: experiments/NAME)")
    exp.add_argument("--items", type=int, default=None, help="items per task set, overriding the spec's n")
    exp.add_argument("--quiet", action="store_true", help="no progress output")
    exp.add_argument(
        "--rescore",
        action="store_true",
        help="run nothing: score the finished rows again from their transcripts and rewrite the summaries",
    )
    exp.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="items' debates run at once, sharing the models' batches (default: 4; with local models "
        "16 // the largest pool, between 1 and 8)",
    )
    exp.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N (0 <= I < N): the rows whose id is I mod N; default output "
        "experiments/NAME-shard-I-of-N; combine the shards with `agora merge`",
    )
    exp.set_defaults(func=cmd_experiment)

    merge = sub.add_parser(
        "merge",
        help="combine the output directories of a sweep's shards into the results of one run",
        description="Check that the shard directories hold every row of the sweep exactly once (duplicates, "
        "missing rows and rows of another sweep are errors that name them), then write the rows in the order "
        "of a single run, copy the transcripts and rebuild the summaries in --out.",
    )
    merge.add_argument("spec", help="the experiment spec the shards ran")
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="the shards' output directories")
    merge.add_argument(
        "--out", "-o", help="output directory, new or without results (default: experiments/NAME)"
    )
    merge.add_argument("--items", type=int, default=None, help="the --items the shards ran with, if any")
    merge.set_defaults(func=cmd_merge)

    sub.add_parser("tasks", help="list the task sets").set_defaults(func=cmd_tasks)

    stats = sub.add_parser(
        "stats",
        help="compare systems on the same items: accuracy difference, paired bootstrap CI, McNemar and Holm p",
        description="Paired comparison of systems scored on the same items. For each pair of systems (or each "
        "--contrast): n, each accuracy, the difference A-B with a 95% percentile interval from a paired bootstrap "
        "that resamples items within each task, the exact McNemar p-value (two-sided binomial test on the items "
        "exactly one system got right) and the Holm-adjusted p-value over the contrasts shown. Needs scipy: "
        "pip install 'agora[stats]'.",
    )
    stats.add_argument(
        "file", help="CSV or JSONL with columns item, task, then one 0/1 column per system (1 = right)"
    )
    stats.add_argument(
        "--contrast",
        action="append",
        metavar="A:B",
        help="compare system A with system B (repeatable; default: every pair, in column order)",
    )
    stats.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")
    stats.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default: 10000)")
    stats.add_argument(
        "--json", action="store_true", help="print a JSON list: a, b, n, diff, ci, mcnemar_p, holm_p"
    )
    stats.set_defaults(func=cmd_stats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "personas", None) == []:
        args.personas = None
    try:
        with _printable_stdout():
            return args.func(args)
    except AgoraError as exc:
        _say(f"agora: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("agora: interrupted")
        return 130
    except BrokenPipeError:  # e.g. `agora show FILE | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
