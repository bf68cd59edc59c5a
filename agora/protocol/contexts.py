"""Sample template contexts: what a template may meet in a debate, for one trial rendering when a protocol loads.

A template that breaks on one of these (a misspelt attribute such as ``persona.nmae``, ``own.answer`` without a
guard for an agent that has no answer yet) is refused before any model loads, instead of failing mid-debate.
The samples are built with the same functions the engine uses, so they have the shapes the engine passes.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from agora.persona import Persona
from agora.transcript import MessageEvent


def persona_context(persona: Persona) -> SimpleNamespace:
    """What templates see as ``persona``: name, description, values (name, label, weight), top_value."""
    values = [
        SimpleNamespace(name=k, label=k.replace("_", " "), weight=round(v, 3))
        for k, v in persona.normalised_values.items()
    ]
    return SimpleNamespace(
        name=persona.name,
        description=persona.description.strip(),
        values=values,
        top_value=values[0].label,
    )


def message_context(m: MessageEvent) -> dict[str, Any]:
    return {"sender": m.agent, "text": m.text, "answer": m.answer, "phase": m.phase, "round": m.round}


_PERSONA = Persona(
    name="sample",
    values={"fairness": 0.6, "public_health": 0.4},
    description="You are a sample persona.",
    model="scripted",
)


def _message(agent: str, phase: str, round: int = 1) -> MessageEvent:
    return MessageEvent(
        id=f"r{round}.{phase}.{agent}",
        round=round,
        phase=phase,
        kind=phase,
        agent=agent,
        model="scripted",
        recipients=["sample"],
        prompt_hash="0" * 16,
        text=f"Answer: {agent} says yes. Because it is fair.",
        answer=f"{agent} says yes.",
    )


def sample_contexts(phase: str, vote: bool) -> list[tuple[str, dict[str, Any]]]:
    """(description, context) pairs: an agent with no answer of its own and an empty inbox, and one with both."""
    base = {
        "question": "Should the sample be taken?",
        "persona": persona_context(_PERSONA),
        "rounds": 2,
        "phase": phase,
        "agents": ("sample", "other", "third"),
    }
    bare = {**base, "round": 1, "own": None, "inbox": [], "role": None}
    full = {
        **base,
        "round": 2,
        "own": message_context(_message("sample", "propose")),
        "inbox": [message_context(_message(a, "critique", 2)) for a in ("other", "third")],
        "role": "affirmative",
    }
    samples = [("with no own answer and an empty inbox", bare), ("with an own answer and two messages", full)]
    if vote:
        candidates = [{"label": "A", "text": "Yes, take it."}, {"label": "B", "text": "No, leave it."}]
        samples = [(d, {**c, "candidates": candidates}) for d, c in samples]
    return samples


def mediator_contexts() -> list[tuple[str, dict[str, Any]]]:
    """Samples for the mediator's templates: drafting (no statement yet) and revising (a statement, critiques)."""
    opinions = [message_context(_message(a, "propose")) for a in ("sample", "other")]
    critiques = [message_context(_message(a, "critique_draft")) for a in ("sample", "other")]
    drafting = {"question": "Should the sample be taken?", "round": 1, "opinions": opinions, "critiques": []}
    revising = {**drafting, "critiques": critiques, "statement": "We take the sample, fairly."}
    return [("drafting", {**drafting, "statement": None}), ("revising", revising)]


def judge_contexts() -> list[tuple[str, dict[str, Any]]]:
    """Samples for a judge's template: a round to judge, then the final round."""
    roles = {"sample": "affirmative", "other": "negative"}
    inbox = [message_context(_message(a, "argue")) for a in roles]
    base = {"question": "Should the sample be taken?", "rounds": 2, "inbox": inbox, "roles": roles}
    return [
        ("in a round", {**base, "round": 1, "final": False}),
        ("in the final round", {**base, "round": 2, "final": True}),
    ]
