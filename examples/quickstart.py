"""Quickstart: a real debate between four persona cards on the embedded SmolLM2-135M-Instruct.

    python examples/quickstart.py [--question "..."] [--out debate.jsonl]

Takes about a minute on a two-core CPU (the first run converts the model once, about 30 s more).
"""

from __future__ import annotations

import argparse

from agora import Debate, Transcript, load_personas
from agora.views.terminal import render_outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--question", default="Should cities ban cars from their centres?")
    parser.add_argument("--out", default="quickstart.jsonl")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    # Four shipped cards whose stated values pull in different directions.
    wanted = {"verdant", "enterprise", "libertas", "hygieia"}
    personas = [p for p in load_personas() if p.name in wanted]
    for p in personas:
        print(f"{p.name:<11} values {dict(p.normalised_values)}")

    debate = Debate(personas, protocol="debate", rounds=args.rounds, seed=0)
    result = debate.run_sync(args.question, out=args.out)

    print("\n".join(render_outcome(result.outcome)))
    # The transcript reloads into the same typed events.
    reloaded = Transcript.load(args.out)
    print(f"\n{len(reloaded.messages)} messages and {len(reloaded.ballots)} ballots in {args.out}")


if __name__ == "__main__":
    main()
