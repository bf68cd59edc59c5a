"""The engine's own cost: time per message and peak memory of large debates on the scripted backend.

    python benchmarks/bench_engine.py                         # 100 and 1,000 agents, 3 rounds, 5 repeats
    python benchmarks/bench_engine.py --sizes 100 --repeats 1  # a quick look

Every agent is a generated persona on a connected small-world graph (networkx ``connected_watts_strogatz_graph``:
each agent joined to its 6 nearest neighbours, 10% of edges rewired, both directions). The shipped ``debate``
protocol runs for ``--rounds`` rounds: propose, then critique and revise in every round, then a ranked vote. The
scripted backend answers at once with one of three answers, so the time is the engine's: rendering prompts in the
sandbox, gathering each agent's inbox, asyncio scheduling, parsing ballots, merging answers, aggregating, and writing
the JSON Lines transcript (to a temporary file, flushed per event and synced per phase as always).

"Per message" divides the median wall time of a debate by the number of agent turns it ran (messages plus ballots);
the time the scripted backend spends making up its replies is measured and shown beside it (it is told not to keep
its log of every request, which it keeps for tests). Memory is measured in a
fresh process per size: the peak of Python allocations while the debate runs (``tracemalloc``, in a separate run,
since tracing slows it) and the peak resident memory of the process (Linux's VmHWM, reset after a warm-up) against
what it held before.
The last two lines are ``overhead_per_message_ms_<N>=...`` and ``peak_memory_mb_<N>=...`` for every size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import networkx as nx

from agora import Debate, Persona, ScriptedBackend, load_protocol

ANSWERS = ["Yes, close the square to cars.", "No, keep it open.", "Only on weekends and holidays."]
QUESTION = "Should the town square be closed to cars?"


def crowd(n: int, k: int, p: float, seed: int) -> tuple[list[Persona], nx.DiGraph]:
    names = [f"agent{i:05d}" for i in range(n)]
    people = [
        Persona(
            name=name,
            model="scripted",
            values={"fairness": 1 + i % 5, "liberty": 1 + i % 3, "public_health": 1 + i % 7},
            description=f"You are {name}, citizen number {i}, and you argue from your values.",
        )
        for i, name in enumerate(names)
    ]
    ring = nx.connected_watts_strogatz_graph(n, k, p, seed=seed)
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    for a, b in ring.edges():
        graph.add_edges_from([(names[a], names[b]), (names[b], names[a])])
    return people, graph


class _Forget(list):
    """A request log that keeps nothing: the scripted backend logs every request for tests, not the engine."""

    def append(self, item: object) -> None:
        pass


class TimedReplies:
    """The scripted replies, with the time spent making them up."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, request) -> str:
        start = time.perf_counter()
        i = int(request.agent[5:])
        if request.phase == "vote":
            text = "Ranking: C, A, B" if i % 4 == 0 else "Ranking: A, B, C"
        else:
            text = (
                f"Answer: {ANSWERS[i % 3]}\nBecause {request.agent} weighed it in the {request.phase} phase."
            )
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return text


def one_debate(n: int, rounds: int, k: int, p: float, folder: Path) -> dict[str, float]:
    """Build and run one debate; returns wall seconds, turns and the backend's own seconds."""
    people, graph = crowd(n, k, p, seed=0)
    replies = TimedReplies()
    protocol = load_protocol("debate").with_overrides(rounds=rounds)
    start = time.perf_counter()
    backend = ScriptedBackend(replies)
    backend.requests = _Forget()
    debate = Debate(people, protocol, graph=graph, backend=backend, seed=0)
    result = asyncio.run(debate.run(QUESTION, out=folder / f"bench-{n}.jsonl"))
    wall = time.perf_counter() - start
    transcript = result.transcript
    assert transcript.status == "completed", transcript.end
    turns = len(transcript.messages) + len(transcript.ballots)
    assert turns == replies.calls
    return {"wall": wall, "turns": turns, "backend": replies.seconds, "edges": graph.number_of_edges()}


def _status_mb(field: str) -> float | None:
    """A memory figure of this process from Linux's /proc/self/status (VmRSS: now, VmHWM: peak), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Make VmHWM start again from the current resident size (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def probe_memory(n: int, rounds: int, k: int, p: float) -> None:
    """In a fresh process: resident memory before and at peak, and the peak of traced Python allocations.

    The peak is read from VmHWM, not ``ru_maxrss``, which on Linux keeps the parent's peak across ``exec``.
    """
    with tempfile.TemporaryDirectory() as folder:
        one_debate(20, 1, k, p, Path(folder))  # import and compile everything first
        before = _status_mb("VmRSS")
        if before is None or not _reset_peak():
            raise SystemExit("peak memory needs Linux's /proc/self/status and clear_refs")
        one_debate(n, rounds, k, p, Path(folder))
        peak = _status_mb("VmHWM")
        tracemalloc.start()
        one_debate(n, rounds, k, p, Path(folder))
        _, traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(json.dumps({"rss_before_mb": before, "rss_peak_mb": peak, "traced_peak_mb": traced / 2**20}))


def memory(n: int, rounds: int, k: int, p: float) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--probe-memory",
        str(n),
        "--rounds",
        str(rounds),
        "--k",
        str(k),
        "--p",
        str(p),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000", help="comma-separated agent counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--k", type=int, default=6, help="small-world: nearest neighbours per agent")
    parser.add_argument("--p", type=float, default=0.1, help="small-world: rewiring probability")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--probe-memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_memory:
        return probe_memory(args.probe_memory, args.rounds, args.k, args.p)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    if not sizes or sizes[0] <= args.k:
        parser.error(f"every size must be larger than k={args.k}")

    print(f"debate protocol, {args.rounds} rounds, small world k={args.k} p={args.p}, scripted backend")
    per_message: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        one_debate(20, 1, args.k, args.p, Path(folder))  # warm-up: imports, template compilation
        print(
            f"{'agents':>7} {'edges':>7} {'turns':>7} {'wall s':>8} {'per message':>12} {'of which backend':>17}"
        )
        for n in sizes:
            runs = [one_debate(n, args.rounds, args.k, args.p, Path(folder)) for _ in range(args.repeats)]
            wall = statistics.median(r["wall"] for r in runs)
            backend = statistics.median(r["backend"] for r in runs)
            turns = runs[0]["turns"]
            per_message[n] = wall / turns * 1e3
            print(
                f"{n:>7} {runs[0]['edges']:>7} {turns:>7} {wall:>8.2f} {per_message[n]:>9.3f} ms "
                f"{backend / turns * 1e3:>14.4f} ms"
            )
    print(f"(medians of {args.repeats} repeats)")
    peaks: dict[int, float] = {}
    if not args.skip_memory:
        print()
        print(f"{'agents':>7} {'RSS before':>11} {'RSS peak':>9} {'RSS added':>10} {'traced peak':>12}")
        for n in sizes:
            m = memory(n, args.rounds, args.k, args.p)
            peaks[n] = m["rss_peak_mb"]
            print(
                f"{n:>7} {m['rss_before_mb']:>8.0f} MB {m['rss_peak_mb']:>6.0f} MB "
                f"{m['rss_peak_mb'] - m['rss_before_mb']:>7.0f} MB {m['traced_peak_mb']:>9.1f} MB"
            )
    print()
    print(" ".join(f"overhead_per_message_ms_{n}={v:.3f}" for n, v in per_message.items()))
    print(" ".join(f"peak_memory_mb_{n}={v:.0f}" for n, v in peaks.items()) or "peak_memory_mb=skipped")


if __name__ == "__main__":
    main()
