"""Hand-built transcripts whose metrics are known, for the analysis and report tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agora.transcript import BallotEvent, EndEvent, Header, MessageEvent, OutcomeEvent, PhaseEvent, Transcript

QUESTION = "Should the town build the bridge?"

#: four agents; c hears a, d hears a and c; a and b hear each other; c and d hear each other; b -> d is NOT an edge
EDGES = [("a", "b"), ("b", "a"), ("c", "d"), ("d", "c"), ("a", "c"), ("a", "d")]

#: stage -> agent -> answer. "Yes"/"No" take a side; "Maybe later" takes none (its own position).
ANSWERS: dict[tuple[int, str], dict[str, str]] = {
    (1, "propose"): {"a": "Yes", "b": "No", "c": "No", "d": "Maybe later"},
    (1, "revise"): {"a": "Yes.", "b": "Yes, because it helps.", "c": "Yes", "d": "No, too costly."},
    (2, "revise"): {"a": "Yes", "b": "Yes", "c": "Yes, build it.", "d": "Yes"},
}

VALUES = {
    "a": {"safety": 3.0, "cost": 1.0},
    "b": {"safety": 1.0},
    "c": {"cost": 1.0},
    "d": {"cost": 1.0, "nature": 1.0},
}


def header(
    agents: Sequence[str] = ("a", "b", "c", "d"),
    edges: Sequence[tuple[str, str]] = EDGES,
    values: Mapping[str, Mapping[str, float]] = VALUES,
    descriptions: Mapping[str, str] | None = None,
) -> Header:
    personas = [
        {
            "name": a,
            "model": "scripted",
            "values": dict(values.get(a, {"safety": 1.0})),
            "description": (descriptions or {}).get(a, f"You are {a}."),
        }
        for a in agents
    ]
    return Header(
        protocol="debate",
        protocol_spec={"name": "debate", "aggregation": {"rule": "borda"}},
        config_hash="0" * 64,
        seed=0,
        question=QUESTION,
        agents=list(agents),
        personas=personas,
        graph=[tuple(e) for e in edges],
    )


def message(
    r: int, phase: str, agent: str, answer: str, *, error: str | None = None, text: str = ""
) -> MessageEvent:
    kind = phase if phase in ("propose", "critique", "revise") else "other"
    return MessageEvent(
        id=f"r{r}.{phase}.{agent}",
        round=r,
        phase=phase,
        kind=kind,
        agent=agent,
        model="scripted",
        recipients=[],
        prompt_hash="0" * 16,
        text=text or (f"Answer: {answer}" if error is None else ""),
        answer=answer if error is None else "",
        error=error,
    )


def debate_transcript(
    answers: Mapping[tuple[int, str], Mapping[str, str]] = ANSWERS, *, with_outcome: bool = True
) -> Transcript:
    """The four-agent debate of :data:`ANSWERS` over :data:`EDGES`, with critiques, ballots and an outcome."""
    t = Transcript([header()])
    for (r, phase), by_agent in answers.items():
        if phase == "revise":
            for agent in by_agent:
                t.append(message(r, "critique", agent, "", text=f"{agent} criticises the others"))
            t.append(
                PhaseEvent(round=r, phase="critique", kind="critique", answered=list(by_agent), failed=[])
            )
        for agent, answer in by_agent.items():
            t.append(message(r, phase, agent, answer))
        t.append(PhaseEvent(round=r, phase=phase, kind=phase, answered=list(by_agent), failed=[]))
    if with_outcome:
        for agent in ("a", "b", "c", "d"):
            t.append(
                BallotEvent(agent=agent, labels={"A": "a"}, ranking=[["a"]], raw="Ranking: A", parse="labels")
            )
        t.append(
            OutcomeEvent(
                rule="borda",
                weighted=False,
                winner="a",
                answer="Yes",
                ranking=[["a"]],
                scores={"borda": {"a": 0.0}, "plurality": {"a": 4.0}},
                winners_by_rule={"borda": ["a"], "plurality": ["a"]},
                candidates={"a": "Yes"},
                members={"a": ["a", "b", "c", "d"]},
                voters=4,
            )
        )
        t.append(EndEvent(status="completed"))
    return t
