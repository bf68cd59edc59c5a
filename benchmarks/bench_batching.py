"""Side by side: one debate phase answered by sequential per-agent calls, and by agora's engine.

    python benchmarks/bench_batching.py                 # 4, 8 and 16 agents, 3 repeats (about 10 minutes on 2 cores)
    python benchmarks/bench_batching.py --sizes 4 --repeats 1 --skip-memory --skip-cold-start   # a quick look
    python benchmarks/bench_batching.py --skip-timing --skip-cold-start   # peak memory only (about 2 minutes)

Every agent answers the same proposal phase on SmolLM2-135M-Instruct: a prompt of about 135 tokens, 64 new tokens,
greedy. The agents are asked for a paragraph, so nearly every answer runs to the 64-token limit and both ways do the
same work; ``--answers short`` uses the shipped debate's one-sentence proposal instead, where answers stop at their
own end (20 to 64 tokens) and a batch waits for its longest row. Two ways, in one process, alternating which goes
first, repeated:

  (a) sequential: one plain ``model.generate`` per agent, one after another, as frameworks without batching do;
  (b) engine: ``agora.Debate`` runs the phase; agents that share the model share one batched forward pass.

Both read the same prompts (the engine's own, rendered once up front), so their greedy outputs must be identical;
the table says whether they were. Then, each in a fresh process: the peak resident memory of a 16-agent phase
against a 1-agent phase on the same model, and the cold start from the safetensors cache and from the GGUF file.
The last line is ``speedup_16=<median ratio>`` (or the largest size run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as agora does; must precede the torch import

MODEL = "smollm2-135m-instruct"
REPO = Path(__file__).resolve().parent.parent
TEMPLATES = {"paragraph": "benchmarks/propose_paragraph.j2", "short": "protocols/debate/propose.j2"}
QUESTION = (
    "A city council must decide what to do with the old rail yard next to the river: build affordable housing, "
    "plant a public park, or lease it to a factory that would bring jobs. What should the council do?"
)
# (values, description) for up to 16 agents; each agent's prompt is about 150 tokens
VIEWPOINTS = [
    ({"sustainability": 0.7, "public_health": 0.3}, "You speak for nature and the generations not yet born."),
    ({"prosperity": 0.7, "innovation": 0.3}, "You judge choices by the jobs and growth they bring."),
    ({"liberty": 0.7, "self_reliance": 0.3}, "You defend the freedom of people to choose for themselves."),
    (
        {"public_health": 0.7, "safety": 0.3},
        "You are a doctor who weighs every choice by its effect on health.",
    ),
    ({"fairness": 0.7, "equality": 0.3}, "You care most that the poorest neighbours are not left behind."),
    ({"tradition": 0.7, "community": 0.3}, "You want to keep what makes the town's history and character."),
    ({"evidence": 0.7, "prudence": 0.3}, "You trust data and ask what the studies show before deciding."),
    ({"safety": 0.6, "order": 0.4}, "You think first about crime, accidents and emergency access."),
    (
        {"community": 0.6, "fairness": 0.4},
        "You organise the neighbourhood association and speak for residents.",
    ),
    ({"innovation": 0.6, "prosperity": 0.4}, "You run a start-up and want the city to try new ideas."),
    (
        {"prudence": 0.6, "evidence": 0.4},
        "You are the city treasurer and worry about debts and upkeep costs.",
    ),
    ({"equality": 0.6, "liberty": 0.4}, "You are a tenant organiser fighting high rents."),
    (
        {"beauty": 0.6, "sustainability": 0.4},
        "You are an architect who cares about how the city looks and feels.",
    ),
    ({"education": 0.6, "community": 0.4}, "You are a teacher who thinks about children and schools."),
    ({"self_reliance": 0.6, "prosperity": 0.4}, "You own a small shop and distrust big plans from above."),
    ({"order": 0.6, "tradition": 0.4}, "You are a retired judge who values due process and clear rules."),
]


def personas(n: int):
    from agora import Persona

    return [
        Persona(name=f"agent{i:02d}", model=MODEL, values=values, description=description)
        for i, (values, description) in enumerate(VIEWPOINTS[:n])
    ]


def protocol(new_tokens: int, answers: str):
    """The shipped debate's system prompt and one proposal phase (templates read from this checkout)."""
    from agora.protocol.loader import Protocol
    from agora.protocol.spec import PhaseSpec, ProtocolSpec

    phase = PhaseSpec(name="propose", kind="propose", template=TEMPLATES[answers], max_new_tokens=new_tokens)
    spec = ProtocolSpec(
        name="bench-propose", rounds=1, system_template="protocols/debate/system.j2", phases=[phase]
    )
    return Protocol(spec, REPO)


def engine_requests(n: int, new_tokens: int, answers: str):
    """The exact requests the engine sends for this phase (captured with a scripted backend: no model involved)."""
    from agora import Debate, ScriptedBackend

    recorder = ScriptedBackend(lambda request: "ok")
    Debate(personas(n), protocol(new_tokens, answers), backend=recorder).run_sync(QUESTION)
    return {r.agent: r for r in recorder.requests}


def run_sequential(model, tokenizer, requests) -> tuple[float, dict[str, str], int]:
    """(a) one plain generate per agent, one after another."""
    import torch

    texts, tokens = {}, 0
    start = time.perf_counter()
    for agent, request in requests.items():
        messages = [m.as_dict() for m in request.messages]
        ids = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            out = model.generate(
                **ids,
                max_new_tokens=request.max_new_tokens,
                do_sample=False,
                top_p=None,
                top_k=None,
                temperature=None,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[0, ids["input_ids"].shape[1] :]
        tokens += int((new != tokenizer.eos_token_id).sum())
        texts[agent] = tokenizer.decode(new, skip_special_tokens=True).strip()
    return time.perf_counter() - start, texts, tokens


def run_engine(
    backend, n: int, new_tokens: int, answers: str, out: Path
) -> tuple[float, dict[str, str], int]:
    """(b) agora's engine runs the phase; the personas share one model and one batch."""
    from agora import Debate

    debate = Debate(personas(n), protocol(new_tokens, answers), backends={MODEL: backend})
    start = time.perf_counter()
    result = asyncio.run(debate.run(QUESTION, out=out))
    elapsed = time.perf_counter() - start
    messages = result.transcript.messages
    failed = [m.agent for m in messages if not m.ok]
    if failed:
        raise SystemExit(f"engine run failed for {failed}")
    return elapsed, {m.agent: m.text for m in messages}, sum(m.completion_tokens for m in messages)


def side_by_side(sizes: list[int], repeats: int, new_tokens: int, answers: str) -> dict[int, float]:
    from agora.backends.transformers.backend import TransformersBackend

    backend = TransformersBackend(MODEL)
    loaded = backend.load()
    model, tokenizer = loaded.model, loaded.tokenizer
    import torch

    print(f"model {MODEL}, {loaded.dtype}, {loaded.device}, torch threads {torch.get_num_threads()}")
    requests = {n: engine_requests(n, new_tokens, answers) for n in sizes}
    prompt_tokens = [
        len(
            tokenizer.apply_chat_template(
                [m.as_dict() for m in r.messages], add_generation_prompt=True, return_dict=True
            )["input_ids"]
        )
        for r in requests[max(sizes)].values()
    ]
    print(
        f"prompt tokens per agent: median {statistics.median(prompt_tokens):.0f} "
        f"(min {min(prompt_tokens)}, max {max(prompt_tokens)}); at most {new_tokens} new tokens, greedy; "
        f"{answers} answers"
    )
    # warm both paths once so neither pays first-call costs
    run_sequential(model, tokenizer, dict(list(requests[min(sizes)].items())[:1]))
    tmp = Path(tempfile.mkdtemp(prefix="agora-bench-"))
    run_engine(backend, 1, 4, answers, tmp / "warm.jsonl")

    times: dict[tuple[int, str], list[float]] = {}
    toks: dict[tuple[int, str], list[int]] = {}
    identical: dict[int, bool] = {n: True for n in sizes}
    for rep in range(repeats):
        for n in sizes:
            order = ["sequential", "engine"] if (rep + n) % 2 == 0 else ["engine", "sequential"]
            texts = {}
            for way in order:
                if way == "sequential":
                    seconds, texts[way], count = run_sequential(model, tokenizer, requests[n])
                else:
                    seconds, texts[way], count = run_engine(
                        backend, n, new_tokens, answers, tmp / f"{n}-{rep}.jsonl"
                    )
                times.setdefault((n, way), []).append(seconds)
                toks.setdefault((n, way), []).append(count)
            same = texts["sequential"] == texts["engine"]
            identical[n] = identical[n] and same
            print(
                f"  repeat {rep + 1}/{repeats}, {n:2d} agents: sequential {times[(n, 'sequential')][-1]:6.1f} s, "
                f"engine {times[(n, 'engine')][-1]:6.1f} s, outputs {'identical' if same else 'DIFFERENT'}",
                flush=True,
            )
            if not same:
                for agent in texts["sequential"]:
                    if texts["sequential"][agent] != texts["engine"].get(agent):
                        print(f"    {agent}: sequential {texts['sequential'][agent]!r}")
                        print(f"    {agent}: engine     {texts['engine'].get(agent)!r}")
                        break

    print()
    print(
        f"{'agents':>6}  {'sequential s':>12}  {'engine s':>8}  {'seq tok/s':>9}  {'engine tok/s':>12}  "
        f"{'speedup':>7}  identical"
    )
    speedups = {}
    for n in sizes:
        seq = statistics.median(times[(n, "sequential")])
        eng = statistics.median(times[(n, "engine")])
        ratios = [s / e for s, e in zip(times[(n, "sequential")], times[(n, "engine")], strict=True)]
        speedups[n] = statistics.median(ratios)
        print(
            f"{n:>6}  {seq:>12.1f}  {eng:>8.1f}  {statistics.median(toks[(n, 'sequential')]) / seq:>9.1f}  "
            f"{statistics.median(toks[(n, 'engine')]) / eng:>12.1f}  {speedups[n]:>6.2f}x  "
            f"{'yes' if identical[n] else 'NO'}"
        )
    print(f"(medians of {repeats} repeats; speedup is the median of the per-repeat ratios)")
    return speedups


# -- measurements in fresh processes ---------------------------------------------------------------------------


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def probe_memory(n: int, new_tokens: int, answers: str) -> None:
    """Child process: load the model, then run an n-agent phase; print resident memory as JSON (Linux only).

    The peak is reset after loading (loading briefly maps the weight file as well as the weights), so
    ``phase_peak_mb`` is the most the process held while the agents answered.
    """
    from agora.backends.transformers.backend import TransformersBackend
    from agora.backends.transformers.pool import DEFAULT_POOL

    backend = TransformersBackend(MODEL)
    backend.load()
    loaded_mb = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current resident size
    run_engine(backend, n, new_tokens, answers, Path(tempfile.mkdtemp()) / "t.jsonl")
    print(
        json.dumps(
            {
                "agents": n,
                "loaded_mb": loaded_mb,
                "phase_peak_mb": _status_mb("VmHWM"),
                "weights_mb": DEFAULT_POOL.memory_bytes() / 2**20,
            }
        )
    )


def probe_load() -> None:
    """Child process: time the imports and the model load, print JSON."""
    start = time.perf_counter()
    from agora.backends.transformers.backend import TransformersBackend

    imported = time.perf_counter()
    lm = TransformersBackend(MODEL).load()
    print(
        json.dumps(
            {"import_s": imported - start, "load_s": time.perf_counter() - imported, "sha256": lm.sha256}
        )
    )


def child(args: list[str], env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory(new_tokens: int, answers: str) -> None:
    if not Path("/proc/self/clear_refs").exists():
        print("peak memory: skipped (needs Linux's /proc)")
        return
    common = ["--new-tokens", str(new_tokens), "--answers", answers]
    one = child(["--probe-memory", "1", *common])
    many = child(["--probe-memory", "16", *common])
    print(
        f"resident memory, model loaded: {one['loaded_mb']:.0f} MB (weights {one['weights_mb']:.0f} MB, one copy)"
    )
    print(
        f"peak resident memory during the phase: 1 agent {one['phase_peak_mb']:.0f} MB, 16 agents on the same "
        f"model {many['phase_peak_mb']:.0f} MB, ratio {many['phase_peak_mb'] / one['phase_peak_mb']:.2f}x"
    )


def cold_start() -> None:
    with tempfile.TemporaryDirectory(prefix="agora-cache-") as empty:
        gguf = child(["--probe-load"], {"AGORA_CACHE_DIR": empty})
        cached = child(["--probe-load"], {"AGORA_CACHE_DIR": empty})
    print(
        f"cold start from GGUF (converts once to the cache): model ready {gguf['load_s']:.1f} s after "
        f"importing agora's backend ({gguf['import_s']:.1f} s)"
    )
    print(
        f"cold start from the safetensors cache: model ready {cached['load_s']:.2f} s after importing agora's "
        f"backend ({cached['import_s']:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="4,8,16", help="comma-separated agent counts (at most 16)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument(
        "--answers",
        choices=sorted(TEMPLATES),
        default="paragraph",
        help="paragraph: answers run to the token limit (default); short: the debate's one sentence",
    )
    parser.add_argument(
        "--skip-timing", action="store_true", help="skip the side-by-side runs (memory, cold start)"
    )
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--probe-memory", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--probe-load", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_memory:
        return probe_memory(args.probe_memory, args.new_tokens, args.answers)
    if args.probe_load:
        return probe_load()
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    if not sizes or sizes[0] < 1 or sizes[-1] > len(VIEWPOINTS):
        parser.error(f"sizes must be between 1 and {len(VIEWPOINTS)}")
    speedups = {} if args.skip_timing else side_by_side(sizes, args.repeats, args.new_tokens, args.answers)
    print()
    if not args.skip_memory:
        memory(args.new_tokens, args.answers)
    if not args.skip_cold_start:
        cold_start()
    if speedups:
        print(f"speedup_{sizes[-1]}={speedups[sizes[-1]]:.2f}")


if __name__ == "__main__":
    main()
