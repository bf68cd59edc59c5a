"""Protocol specs and their Jinja2 templates: validation at load time, the sandbox at render time."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from agora import ConfigError, Protocol, load_protocol
from agora.protocol.loader import list_protocols, resolve_protocol_path
from agora.protocol.spec import MAX_ROUNDS


def edit_spec(spec_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(spec_path.read_text())
    data.update(changes)
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec_path


def context(**extra: object) -> dict[str, object]:
    persona = SimpleNamespace(
        name="alpha",
        description="desc",
        values=[SimpleNamespace(name="fairness", label="fairness", weight=1.0)],
        top_value="fairness",
    )
    base: dict[str, object] = {
        "question": "Q?",
        "persona": persona,
        "round": 1,
        "rounds": 1,
        "phase": "propose",
        "own": None,
        "inbox": [],
        "agents": ["alpha"],
    }
    base.update(extra)
    return base


def test_shipped_debate_loads():
    p = load_protocol("debate")
    assert isinstance(p, Protocol)
    assert p.name == "debate"
    kinds = [ph.kind for ph in p.spec.phases]
    assert kinds[0] == "propose" and "vote" in kinds
    assert set(p.templates) == {ph.name for ph in p.spec.phases}
    assert p.spec.rounds >= 1
    assert p.source is not None and p.source.is_file()


def test_every_shipped_protocol_loads():
    paths = list_protocols()
    assert paths
    for path in paths:
        assert load_protocol(path).name == path.stem


def test_shipped_templates_render(protocol_copy):
    p = load_protocol(protocol_copy)
    system = p.system_template.render(**context())
    assert "alpha" in system and "desc" in system
    for ph in p.spec.phases:
        extra = {"candidates": [{"label": "A", "text": "yes"}]} if ph.kind == "vote" else {}
        assert "fairness" in p.templates[ph.name].render(**context(phase=ph.name, **extra))


def test_unknown_protocol_name_lists_shipped_ones():
    with pytest.raises(ConfigError) as info:
        load_protocol("no-such-protocol")
    message = str(info.value)
    assert "no-such-protocol" in message
    for path in list_protocols():
        assert path.stem in message


def test_directory_named_like_a_protocol_does_not_hide_the_shipped_one(tmp_path, monkeypatch):
    # a copy of protocols/ in the working directory has a 'debate/' folder of templates beside debate.yaml
    (tmp_path / "debate").mkdir()
    monkeypatch.chdir(tmp_path)
    assert load_protocol("debate").name == "debate"
    assert resolve_protocol_path("debate").is_file()


def test_missing_spec_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_protocol(path)
    assert str(path) in str(info.value) and "not found" in str(info.value)


def test_unknown_field_in_spec(protocol_copy):
    edit_spec(protocol_copy, colour="blue")
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert info.value.field == "colour"
    assert str(protocol_copy) in str(info.value) and "unknown field" in str(info.value)


def test_unknown_field_in_phase(protocol_copy):
    data = yaml.safe_load(protocol_copy.read_text())
    data["phases"][1]["speed"] = "fast"
    protocol_copy.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert info.value.field == "phases.1.speed"


@pytest.mark.parametrize("rounds", [0, -1, MAX_ROUNDS + 1, 1000])
def test_out_of_range_rounds_rejected(protocol_copy, rounds):
    edit_spec(protocol_copy, rounds=rounds)
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert info.value.field == "rounds"
    assert str(protocol_copy) in str(info.value)


def test_vote_phase_must_be_last(protocol_copy):
    data = yaml.safe_load(protocol_copy.read_text())
    for ph in data["phases"]:
        if ph["kind"] == "vote":
            ph["when"] = "every"
    protocol_copy.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="when: last"):
        load_protocol(protocol_copy)


def test_protocol_needs_a_propose_phase(protocol_copy):
    data = yaml.safe_load(protocol_copy.read_text())
    data["phases"] = [ph for ph in data["phases"] if ph["kind"] != "propose"]
    protocol_copy.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="propose"):
        load_protocol(protocol_copy)


def test_yaml_syntax_error_in_spec(protocol_copy):
    protocol_copy.write_text("name: debate\nrounds: [1, 2\n")
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert str(protocol_copy) in str(info.value) and "line" in str(info.value)


# -- templates -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        # an undefined variable is refused at load, naming the variable
        ("propose.j2", "Question: {{ question }}\nAlso: {{ mystery_variable }}\n", "mystery_variable"),
        # a syntax error names the line
        ("critique.j2", "Question: {{ question }}\n\n{% for m in %}\n{% endfor %}\n", "line 3"),
    ],
    ids=["undefined-variable", "syntax-error"],
)
def test_bad_template_rejected_at_load_naming_file(protocol_copy, name, source, expected):
    template = protocol_copy.parent / "debate" / name
    template.write_text(source)
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    message = str(info.value)
    assert str(template) in message
    assert expected in message


def test_candidates_variable_only_in_vote_templates(protocol_copy):
    template = protocol_copy.parent / "debate" / "propose.j2"
    template.write_text("{% for c in candidates %}{{ c.label }}{% endfor %}")
    with pytest.raises(ConfigError, match="candidates"):
        load_protocol(protocol_copy)


def test_missing_template_file(protocol_copy):
    template = protocol_copy.parent / "debate" / "revise.j2"
    template.unlink()
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert str(template) in str(info.value) and "not found" in str(info.value)


def test_template_outside_the_protocol_directory_is_not_loaded(protocol_copy, tmp_path):
    (tmp_path / "outside.j2").write_text("{{ question }}")
    data = yaml.safe_load(protocol_copy.read_text())
    data["phases"][0]["template"] = "../outside.j2"
    protocol_copy.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="not found"):
        load_protocol(protocol_copy)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ question.__class__.__base__.__subclasses__() }}",
        "{{ persona.__class__ }}",
        "{{ range.__self__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_sandbox_escape_fails_with_config_error(protocol_copy, source):
    template = protocol_copy.parent / "debate" / "propose.j2"
    template.write_text(source)
    # Either the load refuses it (an undeclared global) or rendering hits the sandbox; both name the template.
    with pytest.raises(ConfigError) as info:
        p = load_protocol(protocol_copy)
        p.templates["propose"].render(**context())
    assert str(template) in str(info.value)


def test_sandbox_escape_is_refused_when_the_spec_loads(protocol_copy):
    template = protocol_copy.parent / "debate" / "propose.j2"
    template.write_text("{{ ''.__class__.__mro__ }}")
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert "'__class__'" in str(info.value) and "'__mro__'" in str(info.value)
    assert str(template) in str(info.value) and "phases.0.template" in str(info.value)


def test_computed_sandbox_escape_is_caught_by_the_trial_rendering(protocol_copy):
    """An attribute name built at render time passes the static check; the sandbox refuses it on the trial run."""
    template = protocol_copy.parent / "debate" / "propose.j2"
    template.write_text("{% set n = '_' ~ '_class__' %}{{ question | attr(n) }}")
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert "unsafe" in str(info.value) and str(template) in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["{{ range(10 ** 9) | list | length }}", "{{ lipsum() }}", "{{ cycler(1, 2) }}", "{{ namespace(a=1) }}"],
)
def test_templates_have_no_globals(protocol_copy, text):
    template = protocol_copy.parent / "debate" / "propose.j2"
    template.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert "undefined variable" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "{{ question * 10 ** 8 }}",
        "{{ (inbox * 10 ** 7) | length }}",
        "{{ 2 ** 100000 }}",
        "{{ ((10 ** 64) ** 64) ** 64 }}",
        "{{ question | center(10 ** 9) }}",
        "{{ question | indent(999999999) }}",
        "{{ inbox | batch(10 ** 9, 'x') | list }}",
        "{{ '%999999999d' | format(1) }}",
        "{{ '{:>999999999}'.format(question) }}",
        "{{ '{0:>{1}}'.format(question, 10 ** 9) }}",
        "{{ '{a:>{w}}'.format_map({'a': question, 'w': 10 ** 9}) }}",
    ],
)
def test_huge_repetition_is_refused(protocol_copy, text):
    template = protocol_copy.parent / "debate" / "propose.j2"
    template.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert "too large" in str(info.value)


def test_small_repetition_and_widths_still_render(protocol_copy):
    template = protocol_copy.parent / "debate" / "propose.j2"
    template.write_text(
        "{{ '-' * 20 }} {{ question }} {{ 2 ** 10 }} {{ question | center(9) }} {{ '%3d' | format(7) }} "
        "{{ '{:>4}'.format(round) }}"
    )
    p = load_protocol(protocol_copy)
    assert p.templates["propose"].render(**context()) == "-" * 20 + " Q? 1024     Q?      7    1"


def test_the_unseeded_random_filter_is_not_offered(protocol_copy):
    template = protocol_copy.parent / "debate" / "propose.j2"
    template.write_text("{{ agents | random }}")
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert "random" in str(info.value) and "phases.0.template" in str(info.value)


def test_include_beside_the_spec_is_checked_too(protocol_copy):
    folder = protocol_copy.parent / "debate"
    (folder / "part.j2").write_text("From {{ persona.name }}: {{ secret }}")
    (folder / "propose.j2").write_text("{% include 'debate/part.j2' %}")
    with pytest.raises(ConfigError) as info:
        load_protocol(protocol_copy)
    assert "secret" in str(info.value)
    (folder / "part.j2").write_text("From {{ persona.name }}.")
    p = load_protocol(protocol_copy)
    assert p.templates["propose"].render(**context()).startswith("From ")


def test_missing_context_variable_at_render_is_config_error(protocol_copy):
    p = load_protocol(protocol_copy)
    ctx = context()
    del ctx["persona"]
    with pytest.raises(ConfigError) as info:
        p.templates["propose"].render(**ctx)
    assert "propose.j2" in str(info.value)


# -- overrides -----------------------------------------------------------------------------------------------------
def test_with_overrides_validates():
    p = load_protocol("debate")
    three = p.with_overrides(rounds=3)
    assert three.spec.rounds == 3
    assert load_protocol("debate").spec == p.spec  # the original is untouched
    assert three.with_overrides(timeout_s=0.5).spec.timeout_s == 0.5
    assert p.with_overrides(rounds=None).spec == p.spec  # None means "keep"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rounds", 0),
        ("rounds", 1000),
        ("rounds", "many"),
        ("timeout_s", 0),
        ("quorum", 1.5),
        ("colour", "red"),
    ],
)
def test_with_overrides_rejects_bad_values(field, value):
    p = load_protocol("debate")
    with pytest.raises(ConfigError) as info:
        p.with_overrides(**{field: value})
    assert info.value.field == field
    assert str(p.source) in str(info.value)
