"""Shared fixtures for the fast, model-free tests: shipped cards, tiny personas, a deterministic scripted backend.

Nothing here imports torch: every debate runs on :class:`agora.ScriptedBackend`.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import agora

REPO = Path(__file__).resolve().parent.parent
PROTOCOLS = REPO / "protocols"
PERSONAS = REPO / "personas"

# One candidate line of a vote prompt: "B. <answer text>"
CANDIDATE_LINE = re.compile(r"^([A-Z])\. (.*)$", re.MULTILINE)


def make_persona(
    name: str,
    values: dict[str, float] | None = None,
    description: str | None = None,
    **extra: object,
) -> agora.Persona:
    """A tiny in-memory persona whose model is 'scripted'."""
    return agora.Persona(
        name=name,
        values=values or {"fairness": 0.6, "public_health": 0.4},
        description=description or f"You are {name}, a test persona.",
        model=extra.pop("model", "scripted"),
        **extra,
    )


def answer_token(agent: str, phase: str | None) -> str:
    """A string that appears only in ``agent``'s answer of ``phase``: lets tests see who saw what."""
    return f"TOKEN-{agent}-{phase}"


def vote_labels(request: agora.GenerationRequest, agents: Sequence[str]) -> dict[str, str]:
    """Read a vote prompt back: label -> the agent whose answer is listed under that label."""
    prompt = request.messages[-1].content
    labels: dict[str, str] = {}
    for label, text in CANDIDATE_LINE.findall(prompt):
        owners = [a for a in agents if f"TOKEN-{a}-" in text]
        if len(owners) == 1:
            labels[label] = owners[0]
    return labels


def make_reply(
    preferences: dict[str, Sequence[str]] | None = None,
    agents: Sequence[str] | None = None,
) -> Callable[[agora.GenerationRequest], str]:
    """A reply function that depends only on ``request.agent`` and ``request.phase``.

    Non-vote phases answer ``Answer: TOKEN-<agent>-<phase> ...``. In the vote phase, with ``preferences``
    (voter -> candidate agents, best first) and ``agents`` given, the reply ranks the shown labels in that order;
    otherwise it ranks the labels as listed ("Ranking: A, B, C").
    """

    def reply(request: agora.GenerationRequest) -> str:
        if request.phase == "vote":
            prompt = request.messages[-1].content
            if preferences is not None and agents is not None and request.agent in preferences:
                owner_of = vote_labels(request, agents)
                label_of = {agent: label for label, agent in owner_of.items()}
                order = [label_of[a] for a in preferences[request.agent] if a in label_of]
            else:
                order = [label for label, _ in CANDIDATE_LINE.findall(prompt)]
            return "Ranking: " + ", ".join(order)
        return (
            f"Answer: {answer_token(request.agent or 'nobody', request.phase)} thinks X. "
            f"Because {request.agent} values it."
        )

    return reply


@pytest.fixture
def shipped_personas() -> list[agora.Persona]:
    return agora.load_personas()


@pytest.fixture
def persona_factory() -> Callable[..., agora.Persona]:
    """``persona_factory("alpha", values={...}, description=...)`` builds a tiny persona."""
    return make_persona


@pytest.fixture
def tiny_personas() -> list[agora.Persona]:
    return [make_persona(n) for n in ("alpha", "bravo", "charlie", "delta")]


@pytest.fixture
def scripted() -> agora.ScriptedBackend:
    """A scripted backend whose replies are a deterministic function of the agent and the phase."""
    return agora.ScriptedBackend(make_reply())


@pytest.fixture
def protocol_copy(tmp_path: Path) -> Path:
    """A copy of the shipped 'debate' protocol (spec + templates) in ``tmp_path/proto``; returns the spec path."""
    target = tmp_path / "proto"
    target.mkdir()
    shutil.copy(PROTOCOLS / "debate.yaml", target / "debate.yaml")
    shutil.copytree(PROTOCOLS / "debate", target / "debate")
    return target / "debate.yaml"
