"""Mediator synthesis: drafts, the agents' ranking of them (Schulze), the chosen draft's critique, one revision."""

from __future__ import annotations

import re

import pytest
from conftest import make_persona

import agora
from agora.errors import ConfigError, DebateError
from agora.views.terminal import render

NAMES = ["alpha", "bravo", "charlie"]
# alpha and bravo like draft 2 best, charlie likes draft 3
PLANS = {
    "mediator-1": "build more parks near schools",
    "mediator-2": "fund night buses for workers",
    "mediator-3": "lower taxes on small shops",
    "mediator-4": "plant trees along every river",
}
FAVOURITE = {"alpha": "mediator-2", "bravo": "mediator-2", "charlie": "mediator-3"}


def label_of(prompt: str, draft: str) -> str:
    return re.search(rf"^([A-Z])\. Statement {draft}\b", prompt, flags=re.MULTILINE).group(1)


def reply(request):
    prompt = request.messages[-1].content
    if request.phase == "propose":
        return f"Answer: {request.agent} thinks X."
    if request.phase == "draft":
        return f"Statement {request.agent}: {PLANS[request.agent]}."
    if request.phase == "rank":
        first = label_of(prompt, FAVOURITE[request.agent])
        rest = [lab for lab in re.findall(r"^([A-Z])\. ", prompt, flags=re.MULTILINE) if lab != first]
        return ", ".join([first, *rest])
    if request.phase == "critique_draft":
        return f"{request.agent} wants more detail."
    if request.phase == "revise_draft":
        return "Revised statement: we should do X, with detail."
    raise AssertionError(request.phase)


def run(function=reply, scorer=None, **updates):
    """The shipped deliberation protocol, with written rankings of the drafts unless ``scorer`` is given."""
    personas = [make_persona(n) for n in NAMES]
    protocol = agora.load_protocol("deliberation")
    if scorer is None:
        updates = {"ballot": "generated", "rank_template": "deliberation/rank.j2", **updates}
    mediation = protocol.spec.mediation.model_copy(update=updates).model_dump()
    protocol = protocol.with_overrides(mediation=mediation)
    backend = agora.ScriptedBackend(function, scorer=scorer)
    return agora.Debate(personas, protocol, backend=backend).run_sync("What should we do?"), backend


def test_the_mediator_drafts_the_agents_rank_critique_and_the_mediator_revises():
    result, backend = run()
    t = result.transcript
    drafts = t.phase_messages(1, "draft")
    assert [d.agent for d in drafts] == ["mediator"] * 4
    assert [d.id for d in drafts] == [f"r1.draft.mediator-{k}" for k in range(1, 5)]
    # each draft is sampled with its own seed, from a prompt carrying every opinion
    draft_requests = [q for q in backend.requests if q.phase == "draft"]
    assert len({q.seed for q in draft_requests}) == 4 and all(q.temperature > 0 for q in draft_requests)
    assert all(f"{n} thinks X" in draft_requests[0].messages[-1].content for n in NAMES)
    # every agent ranked the four drafts
    assert len(t.ballots) == 3 and all(len(b.labels) == 4 for b in t.ballots)
    outcome = result.outcome
    assert outcome.rule == "schulze" and outcome.winner == "mediator-2"
    assert outcome.dissenters == ["charlie"]
    # every agent critiqued the chosen draft, and only it
    critiques = t.phase_messages(1, "critique_draft")
    assert [c.seen[0] for c in critiques] == ["r1.draft.mediator-2"] * 3
    assert (
        "Statement mediator-2"
        in next(q for q in backend.requests if q.phase == "critique_draft").messages[-1].content
    )
    # one greedy revision that sees the statement and every critique
    (revision_request,) = [q for q in backend.requests if q.phase == "revise_draft"]
    assert revision_request.temperature == 0.0
    assert "Statement mediator-2" in revision_request.messages[-1].content
    assert all(f"{n} wants more detail" in revision_request.messages[-1].content for n in NAMES)
    assert outcome.answer == "Revised statement: we should do X, with detail."
    assert outcome.mediation["winning_draft"] == "r1.draft.mediator-2" and outcome.mediation["revised"]
    assert outcome.mediation["statement"].startswith("Statement mediator-2")
    assert [e.phase for e in t if e.type == "phase"] == [
        "propose",
        "draft",
        "rank",
        "critique_draft",
        "revise_draft",
    ]
    text = render(t)
    assert "Revised statement" in text
    # the mediator's statements are not a debater's position in the analysis
    from agora.analysis.positions import positions

    assert positions(t).agents == tuple(NAMES)


def test_scored_rankings_of_the_drafts():
    def scorer(request):
        favourite = PLANS[FAVOURITE[request.agent]]
        return [-1.0 if favourite in c else -4.0 for c in request.continuations]

    result, backend = run(scorer=scorer)
    assert [b.parse for b in result.transcript.ballots] == ["scored"] * 3
    assert all(len(r.continuations) == 4 for r in backend.score_requests)
    assert result.outcome.winner == "mediator-2" and result.outcome.dissenters == ["charlie"]


def test_a_failed_revision_keeps_the_chosen_draft_and_says_why():
    def failing(request):
        if request.phase == "revise_draft":
            raise RuntimeError("mediator crashed")
        return reply(request)

    result, _ = run(failing)
    outcome = result.outcome
    assert outcome.answer.startswith("Statement mediator-2")
    assert outcome.mediation["revised"] is False and "mediator crashed" in outcome.mediation["revision_error"]


def test_no_draft_at_all_fails_the_debate_clearly():
    def no_drafts(request):
        if request.phase == "draft":
            raise RuntimeError("out of memory")
        return reply(request)

    with pytest.raises(DebateError, match="phase 'draft': the mediator wrote no draft .*out of memory"):
        run(no_drafts)


def test_identical_drafts_become_one_candidate():
    def same(request):
        if request.phase == "draft":
            return "Statement mediator-1: we should do X."
        if request.phase == "rank":
            return "A"
        return reply(request)

    result, _ = run(same)
    outcome = result.outcome
    assert list(outcome.candidates) == ["mediator-1"]
    assert outcome.members["mediator-1"] == [f"mediator-{k}" for k in range(1, 5)]


def test_the_draft_count_is_a_setting():
    result, _ = run(drafts=2)
    assert len(result.transcript.phase_messages(1, "draft")) == 2


def test_mediation_and_a_vote_phase_do_not_mix(tmp_path):
    spec = agora.load_protocol("deliberation").spec.model_dump()
    spec["phases"].append({"name": "vote", "kind": "vote", "template": "debate/vote.j2", "when": "last"})
    with pytest.raises(ConfigError, match="not a vote phase"):
        agora.load_protocol("deliberation").with_overrides(phases=spec["phases"])


def test_mediation_phase_names_are_reserved():
    spec = agora.load_protocol("deliberation").spec.model_dump()
    spec["phases"].append({"name": "rank", "kind": "critique", "template": "debate/critique.j2"})
    with pytest.raises(ConfigError, match="'rank' is reserved"):
        agora.load_protocol("deliberation").with_overrides(phases=spec["phases"])


async def test_a_cut_deliberation_resumes_to_the_uninterrupted_run(tmp_path):
    """Cut the transcript after every line and inside lines: resuming gives the same content, the mediation steps
    after the rounds being re-run whole."""
    personas = [make_persona(n) for n in NAMES]
    protocol = agora.load_protocol("deliberation")
    mediation = protocol.spec.mediation.model_copy(
        update={"ballot": "generated", "rank_template": "deliberation/rank.j2"}
    )
    protocol = protocol.with_overrides(mediation=mediation.model_dump())
    out = tmp_path / "full.jsonl"
    full = await agora.Debate(personas, protocol, backend=agora.ScriptedBackend(reply)).run("Q?", out=out)
    raw = out.read_bytes()
    ends = [i + 1 for i, b in enumerate(raw) if b == ord("\n")]
    cuts = ends[:-2] + [(a + b) // 2 for a, b in zip(ends[:-2], ends[1:-1], strict=True)]
    for cut in cuts:
        path = tmp_path / f"cut{cut}.jsonl"
        path.write_bytes(raw[:cut])
        resumed = await agora.resume(path, backend=agora.ScriptedBackend(reply))
        assert resumed.transcript.content() == full.transcript.content(), cut


def test_a_mediator_template_that_breaks_on_a_sample_is_refused_at_load(tmp_path):
    import shutil

    from agora.resources import builtin_dir

    shipped = builtin_dir("protocols")
    for name in ("debate", "deliberation"):
        shutil.copytree(shipped / name, tmp_path / name)
    shutil.copy(shipped / "deliberation.yaml", tmp_path / "deliberation.yaml")
    # while drafting there is no statement yet: a template that assumes one breaks mid-debate
    (tmp_path / "deliberation" / "draft.j2").write_text("{{ question }} {{ statement.upper() }}")
    with pytest.raises(ConfigError, match="draft.j2"):
        agora.load_protocol(tmp_path / "deliberation.yaml")
