"""What a prompt template sees: one typed context model per role.

Each model serves three purposes at once, so the three can never disagree:

- its fields are the **allowlist**: a template that uses any other variable is refused when its protocol loads;
- the run **builds** it for every prompt (:meth:`TemplateContext.variables` is what the template is rendered with);
- its :meth:`~TemplateContext.samples` are the contexts every template is **tried** on once when its protocol loads,
  so that a template that would break mid-debate (``persona.nmae``, ``own.answer`` without a guard for an agent that
  has no answer yet) is refused before any model loads.

Roles: an agent in a phase (:class:`AgentContext`), an agent casting a ballot (:class:`BallotContext`), the judge of
a judged debate (:class:`JudgeContext`) and the mediator of mediator synthesis (:class:`MediatorContext`).
Templates reach fields by attribute (``persona.top_value``, ``m.sender``); text from contributors and models is
passed as plain strings and is never itself rendered as a template.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from agora.persona import Persona
from agora.transcript import MessageEvent

SAMPLE_QUESTION = "Should the sample be taken?"


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValueView(_View):
    """One stated value: ``name`` as in the card, ``label`` for prose, ``weight`` normalised (0..1)."""

    name: str
    label: str
    weight: float


class PersonaView(_View):
    """What templates see as ``persona``: values sorted by weight, largest first; ``top_value`` is the first label."""

    name: str
    description: str
    values: list[ValueView]
    top_value: str

    @classmethod
    def of(cls, persona: Persona) -> PersonaView:
        values = [
            ValueView(name=k, label=k.replace("_", " "), weight=round(v, 3))
            for k, v in persona.normalised_values.items()
        ]
        return cls(
            name=persona.name,
            description=persona.description.strip(),
            values=values,
            top_value=values[0].label,
        )


class MessageView(_View):
    """A message as templates see it (``own``, the entries of ``inbox``, ``opinions``, ``critiques``)."""

    sender: str
    text: str
    answer: str
    phase: str
    round: int

    @classmethod
    def of(cls, m: MessageEvent) -> MessageView:
        return cls(sender=m.agent, text=m.text, answer=m.answer, phase=m.phase, round=m.round)


class CandidateView(_View):
    """One answer on a ballot: the ``label`` the voter writes and the answer's ``text``."""

    label: str
    text: str


class TemplateContext(_View):
    """A template context: its fields are exactly the variables a template of this role may use."""

    @classmethod
    def allowed(cls) -> frozenset[str]:
        """The variables a template of this role may use."""
        return frozenset(cls.model_fields)

    def variables(self) -> dict[str, Any]:
        """Variable name -> value, as the template is rendered with them."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    @classmethod
    def samples(cls, phase: str = "sample") -> list[tuple[str, TemplateContext]]:
        """(description, context) pairs a template is tried on when its protocol loads."""
        raise NotImplementedError


def _sample_message(agent: str, phase: str, round: int = 1) -> MessageView:
    return MessageView(
        sender=agent,
        text=f"Answer: {agent} says yes. Because it is fair.",
        answer=f"{agent} says yes.",
        phase=phase,
        round=round,
    )


_SAMPLE_PERSONA = PersonaView.of(
    Persona(
        name="sample",
        values={"fairness": 0.6, "public_health": 0.4},
        description="You are a sample persona.",
        model="scripted",
    )
)


class AgentContext(TemplateContext):
    """An agent's turn in a phase (and the protocol's system prompt): the question, who it is, where the debate
    stands, its own latest answer (None before its first), what it hears (``inbox``), every agent's name, and its
    role in protocols that give roles (else None)."""

    question: str
    persona: PersonaView
    round: int
    rounds: int
    phase: str
    own: MessageView | None
    inbox: list[MessageView]
    agents: tuple[str, ...]
    role: str | None

    @classmethod
    def samples(cls, phase: str = "sample") -> list[tuple[str, TemplateContext]]:
        base = {
            "question": SAMPLE_QUESTION,
            "persona": _SAMPLE_PERSONA,
            "rounds": 2,
            "phase": phase,
            "agents": ("sample", "other", "third"),
        }
        bare = {**base, "round": 1, "own": None, "inbox": [], "role": None}
        full = {
            **base,
            "round": 2,
            "own": _sample_message("sample", "propose"),
            "inbox": [_sample_message(a, "critique", 2) for a in ("other", "third")],
            "role": "affirmative",
        }
        return [
            ("with no own answer and an empty inbox", cls(**cls._extra_sample(), **bare)),
            ("with an own answer and two messages", cls(**cls._extra_sample(), **full)),
        ]

    @classmethod
    def _extra_sample(cls) -> dict[str, Any]:
        return {}


class BallotContext(AgentContext):
    """An agent casting a ballot: everything an agent sees, and the ``candidates`` (label and text), in the order
    shown to this voter."""

    candidates: list[CandidateView]

    @classmethod
    def _extra_sample(cls) -> dict[str, Any]:
        return {
            "candidates": [
                CandidateView(label="A", text="Yes, take it."),
                CandidateView(label="B", text="No, leave it."),
            ]
        }


class JudgeContext(TemplateContext):
    """The neutral judge of a judged debate: this round's messages (``inbox``), each debater's role (``roles``:
    agent -> role), and whether it must decide now (``final``)."""

    question: str
    round: int
    rounds: int
    inbox: list[MessageView]
    roles: dict[str, str]
    final: bool

    @classmethod
    def samples(cls, phase: str = "sample") -> list[tuple[str, TemplateContext]]:
        roles = {"sample": "affirmative", "other": "negative"}
        inbox = [_sample_message(a, "argue") for a in roles]
        base = {"question": SAMPLE_QUESTION, "rounds": 2, "inbox": inbox, "roles": roles}
        return [
            ("in a round", cls(**base, round=1, final=False)),
            ("in the final round", cls(**base, round=2, final=True)),
        ]


class MediatorContext(TemplateContext):
    """The mediator of mediator synthesis: the agents' latest answers (``opinions``), the critiques it works from,
    and the ``statement`` it revises (None while drafting)."""

    question: str
    round: int
    opinions: list[MessageView]
    critiques: list[MessageView]
    statement: str | None

    @classmethod
    def samples(cls, phase: str = "sample") -> list[tuple[str, TemplateContext]]:
        opinions = [_sample_message(a, "propose") for a in ("sample", "other")]
        critiques = [_sample_message(a, "critique_draft") for a in ("sample", "other")]
        drafting = cls(question=SAMPLE_QUESTION, round=1, opinions=opinions, critiques=[], statement=None)
        revising = cls(
            question=SAMPLE_QUESTION,
            round=1,
            opinions=opinions,
            critiques=critiques,
            statement="We take the sample, fairly.",
        )
        return [("drafting", drafting), ("revising", revising)]
