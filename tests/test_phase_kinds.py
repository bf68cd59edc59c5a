"""A new phase kind, added without touching agora: registered by name, named by a spec, run by the round loop.

``Reflect`` is a kind the library does not have: every agent rereads only its own latest answer (it hears nobody)
and restates it; its messages are the agents' answers, so the vote counts them.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml
from conftest import PROTOCOLS, answer_token, make_persona, make_reply

from agora import ConfigError, Debate, ScriptedBackend, load_protocol
from agora.protocol.contexts import AgentContext
from agora.protocol.spec import PHASE_KINDS, PhaseKind, PhaseSpec, register_phase_kind

NAMES = ["alpha", "bravo", "charlie"]
QUESTION = "Should the library open on Sundays?"


class Reflect(PhaseKind):
    name = "reflect"
    context = AgentContext
    answers = True

    async def run(self, run, state, phase: PhaseSpec) -> bool:
        start = time.perf_counter()

        async def one(name, earlier):
            return await run.turns.turn(state, phase, name, [], state.latest.get(name))  # nobody else heard

        messages = await run.turns.each(phase, state.round, run.order, one)
        run.record.close_phase(phase, state.round, start, messages)
        state.heard(messages, self)
        return False


@pytest.fixture
def reflect_kind():
    register_phase_kind(Reflect)
    yield
    PHASE_KINDS.pop("reflect", None)


def reflect_protocol(tmp_path: Path) -> Path:
    """The shipped debate with a 'reflect' phase between the critique and the revision."""
    spec = yaml.safe_load((PROTOCOLS / "debate.yaml").read_text())
    shutil.copytree(PROTOCOLS / "debate", tmp_path / "debate")
    (tmp_path / "reflect.j2").write_text(
        "{% if own %}Your answer so far: {{ own.answer }}{% endif %}\nRestate your answer to: {{ question }}"
    )
    phases = spec["phases"]
    phases.insert(2, {"name": "reflect", "kind": "reflect", "template": "reflect.j2"})
    spec.update(name="reflect_debate", rounds=1, phases=phases)
    path = tmp_path / "reflect_debate.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_spec_naming_a_kind_nobody_registered_is_refused_naming_the_field(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_protocol(reflect_protocol(tmp_path))
    message = str(refused.value)
    assert "phases.2.kind" in message and "unknown phase kind 'reflect'" in message and "vote" in message


def test_a_registered_kind_runs_in_the_round_loop_and_its_answers_are_voted_on(reflect_kind, tmp_path):
    protocol = load_protocol(reflect_protocol(tmp_path))
    assert [p.kind for p in protocol.spec.phases] == ["propose", "critique", "reflect", "revise", "vote"]
    backend = ScriptedBackend(make_reply())
    debate = Debate([make_persona(n) for n in NAMES], protocol, backend=backend, seed=3)
    t = debate.run_sync(QUESTION).transcript
    assert t.status == "completed"
    reflected = t.phase_messages(1, "reflect")
    assert [m.agent for m in reflected] == NAMES and all(m.kind == "reflect" and m.ok for m in reflected)
    for m in reflected:  # it heard only its own proposal, and said what the scripted reply says for it
        assert m.seen == [f"r1.propose.{m.agent}"]
        assert answer_token(m.agent, "reflect") in m.text
    prompts = {r.agent: r.messages[-1].content for r in backend.requests if r.phase == "reflect"}
    for name in NAMES:
        assert f"Your answer so far: {answer_token(name, 'propose')}" in prompts[name]
        assert not any(answer_token(other, "critique") in prompts[name] for other in NAMES)
    # the revision hears the reflections (the previous phase), not the critiques
    revise_seen = {m.agent: m.seen for m in t.phase_messages(1, "revise")}
    assert all(any(".reflect." in s for s in seen) for seen in revise_seen.values())
    assert all(not any(".critique." in s for s in seen) for seen in revise_seen.values())
    assert [e.phase for e in t.events if e.type == "phase"] == [
        "propose",
        "critique",
        "reflect",
        "revise",
        "vote",
    ]
