"""How the aggregation rule decides a contested moral question: one real debate, every rule, equal and value weights.

    python examples/values_rules.py [--question "..."] [--rounds N] [--models A,B,...] [--protocol P]
                                    [--out values.jsonl]

Five shipped persona cards with different stated values debate on the embedded SmolLM2-135M-Instruct with scored
ballots (each agent's own model scores every final answer). The same ballots are then counted under every rule in
`agora rules`, once with equal weights and once value-weighted (each ballot weighs by how much the question puts the
voter's stated values at stake, see agora/aggregation/relevance.py). Where the rules disagree, the table shows which values the
choice of rule favours. About two minutes on a two-core CPU.

With `--models`, the agents run on these catalog models in turn (e.g.
`--models smollm2-135m-instruct,qwen2.5-coder-0.5b-instruct,gemma3-270m`, see `agora models`): ballots scored by
different models disagree more than ballots of one model in five personas. With `--protocol debate`, each agent
writes its ranking instead (generated ballots; no value weights are measured, so both columns count equal weights).
"""

from __future__ import annotations

import argparse

from agora import RULES, Ballot, Debate, load_personas
from agora.aggregation.outcome import aggregate
from agora.errors import AgoraError

AGENTS = ["verdant", "enterprise", "libertas", "hygieia", "custos"]


def winners(ballots: list[Ballot], candidates: list[str], rule: str, weights: dict[str, float] | None) -> str:
    counted = [
        Ballot.of(b.voter, b.ranking, (weights or {}).get(b.voter, 1.0), utilities=b.utilities)
        for b in ballots
    ]
    try:
        result = aggregate(counted, candidates, rule, weighted=weights is not None, seed=0)
    except AgoraError as exc:
        return f"({exc})"
    return " = ".join(result.winners) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--question", default="Is it acceptable to lie to a friend to protect them from harm?"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--models", default="", help="comma-separated model references, given to the agents in turn"
    )
    parser.add_argument("--protocol", default="debate_values", help="a protocol with a vote phase")
    parser.add_argument("--out", default="values.jsonl")
    args = parser.parse_args()

    personas = [p for p in load_personas() if p.name in AGENTS]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if models:
        personas = [p.model_copy(update={"model": models[i % len(models)]}) for i, p in enumerate(personas)]
    result = Debate(personas, protocol=args.protocol, rounds=args.rounds, seed=0).run_sync(
        args.question, out=args.out
    )
    outcome = result.outcome
    print(f"Question: {args.question}")
    print("Agents: " + ", ".join(f"{p.name} ({p.model})" for p in personas) + "\n")
    print("Final answers (candidates, after merging answers that say the same):")
    for cand, answer in outcome.candidates.items():
        backers = ", ".join(outcome.members.get(cand, [cand]))
        print(f"  {cand:<11} ({backers}): {answer}")
    if outcome.relevance:
        ranked = sorted(outcome.relevance.items(), key=lambda kv: -kv[1])
        print("\nRelevance of each stated value to the question (judge model):")
        print("  " + ", ".join(f"{v} {x:.2f}" for v, x in ranked))
        print("Voting weights: " + ", ".join(f"{a} {w:.2f}" for a, w in outcome.weights.items()))
    else:
        print(f"\nNo value weights: {outcome.weighting_error or 'this protocol does not measure them'}.")
    print("\nBallots (best first):")
    for b in result.transcript.ballots:
        print(f"  {b.agent:<11} " + (" > ".join("=".join(tier) for tier in b.ranking) or f"({b.error})"))

    ballots = [
        Ballot.of(b.agent, b.ranking, utilities=b.utilities) for b in result.transcript.ballots if b.ranking
    ]
    candidates = list(outcome.candidates)
    width = max(len(r) for r in RULES)
    print(f"\n  {'rule':<{width}}  {'equal weights':<24} value-weighted")
    picked = set()
    for rule in RULES:
        plain = winners(ballots, candidates, rule, None)
        weighted = winners(ballots, candidates, rule, outcome.weights or None)
        picked |= {plain, weighted}
        print(f"  {rule:<{width}}  {plain:<24} {weighted}")
    print(
        f"\n{len(picked)} different outcome{'s' if len(picked) != 1 else ''} across {len(RULES)} rules x 2 weightings. Transcript: {args.out}"
    )


if __name__ == "__main__":
    main()
