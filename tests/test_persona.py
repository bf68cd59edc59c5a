"""Persona cards: loading, validation, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

import agora
from agora import ConfigError, load_persona, load_personas

VALID = """\
name: tester
model: smollm2-135m-instruct
values:
  fairness: 0.6
  public_health: 0.4
description: You test things.
contributor: {name: someone, licence: CC0-1.0}
generation: {max_new_tokens: 32, temperature: 0.0}
"""


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def card(tmp_path: Path, body: str, name: str = "card.yaml") -> Path:
    return write(tmp_path / name, body)


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_persona(path)
    return info.value


# -- valid cards ---------------------------------------------------------------------------------------------------
def test_valid_card_loads(tmp_path):
    path = card(tmp_path, VALID)
    p = load_persona(path)
    assert p.name == "tester"
    assert p.model == "smollm2-135m-instruct"
    assert p.values == {"fairness": 0.6, "public_health": 0.4}
    assert p.contributor.name == "someone"
    assert p.generation.max_new_tokens == 32
    assert p.source == str(path)
    assert p.top_values == ["fairness", "public_health"]
    assert sum(p.normalised_values.values()) == pytest.approx(1.0)


def test_minimal_card_gets_defaults(tmp_path):
    p = load_persona(card(tmp_path, "name: t\nvalues: {fairness: 2}\ndescription: hi\n"))
    assert p.weight == 1.0
    assert p.normalised_values == {"fairness": 1.0}
    assert p.generation.temperature == 0.0


def test_every_shipped_card_loads(shipped_personas):
    assert len(shipped_personas) >= 6
    names = [p.name for p in shipped_personas]
    assert len(set(names)) == len(names)
    for p in shipped_personas:
        assert p.description.strip()
        assert p.values and all(w > 0 for w in p.values.values())
        assert Path(p.source).is_file()


def test_shipped_cards_have_different_values(shipped_personas):
    # stated values with their weights: no two cards argue from the same value profile
    profiles = [tuple(sorted(p.normalised_values.items())) for p in shipped_personas]
    assert len(set(profiles)) == len(profiles), "two shipped cards state the same weighted values"
    tops = [p.top_values[0] for p in shipped_personas]
    assert len(set(tops)) == len(tops), "two shipped cards put the same value first"


def test_each_shipped_file_loads_alone(shipped_personas):
    for p in shipped_personas:
        assert load_persona(p.source) == p


def test_persona_built_in_python_has_a_source_description(persona_factory):
    p = persona_factory("alpha")
    assert "alpha" in p.source


# -- invalid cards -------------------------------------------------------------------------------------------------
def test_unknown_field_names_file_and_field(tmp_path):
    path = card(tmp_path, VALID + "colour: red\n")
    err = load_error(path)
    assert str(path) in str(err)
    assert "colour" in str(err)
    assert err.field == "colour"
    assert "unknown field" in str(err)


def test_unknown_nested_field_names_the_path(tmp_path):
    path = card(
        tmp_path,
        "name: t\nvalues: {fairness: 1}\ndescription: hi\ngeneration: {max_new_tokens: 5, beam: 3}\n",
    )
    err = load_error(path)
    assert err.field == "generation.beam"
    assert str(path) in str(err)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("name: t\nvalues: [fairness, health]\ndescription: hi\n", "values"),
        ("name: t\nvalues: {fairness: 1}\ndescription: {a: 1}\n", "description"),
        ("name: [a, b]\nvalues: {fairness: 1}\ndescription: hi\n", "name"),
        (
            "name: t\nvalues: {fairness: 1}\ndescription: hi\ngeneration: {max_new_tokens: lots}\n",
            "generation.max_new_tokens",
        ),
        ("name: t\nvalues: {fairness: 1}\ndescription: hi\nweight: heavy\n", "weight"),
    ],
)
def test_wrong_type_names_the_field(tmp_path, body, field):
    path = card(tmp_path, body)
    err = load_error(path)
    assert err.field == field
    assert str(path) in str(err) and f"field '{field}'" in str(err)


@pytest.mark.parametrize(
    "weight",
    ["-0.5", "0", "0.0", "lots", ".nan", ".inf", "-.inf", "true", "[1]"],
    ids=["negative", "zero", "zero-float", "non-numeric", "nan", "inf", "minus-inf", "bool", "list"],
)
def test_bad_value_weight(tmp_path, weight):
    path = card(tmp_path, f"name: t\nvalues: {{fairness: 0.5, health: {weight}}}\ndescription: hi\n")
    err = load_error(path)
    assert str(path) in str(err)
    assert err.field in ("values", "values.health"), err
    assert f"field '{err.field}'" in str(err)


def test_nan_weight_message_names_the_value(tmp_path):
    err = load_error(card(tmp_path, "name: t\nvalues: {fairness: .nan}\ndescription: hi\n"))
    assert err.field == "values"
    assert "fairness" in str(err) and "positive" in str(err)


@pytest.mark.parametrize("value_name", ["Fairness", "public-health", "1st", "with space", "_lead"])
def test_bad_value_name(tmp_path, value_name):
    path = card(tmp_path, f"name: t\nvalues: {{'{value_name}': 1}}\ndescription: hi\n")
    err = load_error(path)
    assert err.field == "values"
    assert value_name in str(err) and str(path) in str(err)


def test_empty_values(tmp_path):
    err = load_error(card(tmp_path, "name: t\nvalues: {}\ndescription: hi\n"))
    assert err.field == "values"


def test_zero_voting_weight(tmp_path):
    err = load_error(card(tmp_path, VALID + "weight: 0\n"))
    assert err.field == "weight"


def test_missing_required_field(tmp_path):
    err = load_error(card(tmp_path, "name: t\nvalues: {fairness: 1}\n"))
    assert err.field == "description"
    assert "required" in str(err)


def test_bad_persona_name(tmp_path):
    err = load_error(card(tmp_path, "name: 'has space'\nvalues: {fairness: 1}\ndescription: hi\n"))
    assert err.field == "name"


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = card(tmp_path, "name: t\nvalues: {fairness: 1\ndescription: hi\n")
    err = load_error(path)
    assert str(path) in str(err)
    assert "line" in str(err)
    assert "YAML" in str(err)
    assert "\n" not in str(err)


def test_yaml_list_is_rejected(tmp_path):
    path = card(tmp_path, "- name: t\n- values: {fairness: 1}\n")
    err = load_error(path)
    assert str(path) in str(err) and "mapping" in str(err) and "list" in str(err)


def test_empty_file_is_rejected(tmp_path):
    path = card(tmp_path, "")
    err = load_error(path)
    assert str(path) in str(err) and "empty" in str(err)


@pytest.mark.parametrize(
    "blob", [b"\x00\x01\x02name: x", b"\xff\xfe\x00\x81garbage"], ids=["nul", "not-utf8"]
)
def test_binary_file_is_rejected(tmp_path, blob):
    path = card(tmp_path, blob)
    err = load_error(path)
    assert str(path) in str(err)
    assert "binary" in str(err) or "UTF-8" in str(err)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    err = load_error(path)
    assert str(path) in str(err) and "not found" in str(err)
    with pytest.raises(ConfigError, match="not found"):
        load_personas(path)


def test_directory_given_to_load_persona(tmp_path):
    err = load_error(tmp_path)
    assert "directory" in str(err)


# -- loading many cards --------------------------------------------------------------------------------------------
def test_load_personas_from_directory_sorted(tmp_path):
    card(tmp_path, "name: zed\nvalues: {fairness: 1}\ndescription: z\n", "b.yaml")
    card(tmp_path, "name: ann\nvalues: {tradition: 1}\ndescription: a\n", "a.yml")
    (tmp_path / "notes.txt").write_text("not a card")
    personas = load_personas(tmp_path)
    assert [p.name for p in personas] == ["ann", "zed"]


def test_duplicate_names_across_files_name_both(tmp_path):
    one = card(tmp_path, "name: same\nvalues: {fairness: 1}\ndescription: one\n", "one.yaml")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    two = card(other_dir, "name: same\nvalues: {tradition: 1}\ndescription: two\n", "two.yaml")
    with pytest.raises(ConfigError) as info:
        load_personas([one, two])
    message = str(info.value)
    assert str(one) in message and str(two) in message
    assert "same" in message and "duplicate" in message


def test_missing_directory(tmp_path):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(ConfigError) as info:
        load_personas(missing)
    assert str(missing) in str(info.value)


def test_directory_without_cards(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(ConfigError) as info:
        load_personas(tmp_path)
    assert str(tmp_path) in str(info.value) and "no persona cards" in str(info.value)


def test_empty_source_list():
    with pytest.raises(ConfigError):
        load_personas([])


def test_error_in_one_of_many_cards_names_that_card(tmp_path):
    card(tmp_path, "name: ok\nvalues: {fairness: 1}\ndescription: fine\n", "a.yaml")
    bad = card(tmp_path, "name: bad\nvalues: {fairness: -1}\ndescription: broken\n", "b.yaml")
    with pytest.raises(ConfigError) as info:
        load_personas(tmp_path)
    assert str(bad) in str(info.value)


def test_errors_are_agora_errors_and_one_line(tmp_path):
    err = load_error(card(tmp_path, "name: t\nvalues: {fairness: 1\n"))
    assert isinstance(err, agora.AgoraError)
    assert "\n" not in str(err)


def test_persona_is_frozen(persona_factory):
    p = persona_factory("alpha")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        p.name = "beta"  # type: ignore[misc]
