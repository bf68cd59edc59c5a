"""Safe loading: pickle checkpoints, files that are not GGUF, and models that need their own code are refused before
anything is read by torch, with an error naming the card. Tiny fake model directories, no real weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from agora import Debate, load_persona
from agora.backends.catalog import locate
from agora.backends.safety import UnsafeModelError
from agora.cli import main
from agora.errors import AgoraError


def card(tmp_path: Path, model: Path | str, **extra: object) -> Path:
    lines = [
        "name: contributed",
        f"model: {json.dumps(str(model))}",
        "values: {fairness: 1}",
        "description: A contributed model.",
    ]
    lines += [f"{k}: {json.dumps(v)}" for k, v in extra.items()]
    path = tmp_path / "contributed.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def model_dir(tmp_path: Path, files: dict[str, object]) -> Path:
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"model_type": "llama"}))
    for name, content in files.items():
        data = json.dumps(content) if isinstance(content, dict) else str(content)
        (directory / name).write_text(data)
    return directory


def refused(card_path: Path) -> AgoraError:
    with pytest.raises(UnsafeModelError) as info:
        Debate([load_persona(card_path)], "debate")
    assert str(card_path) in str(info.value)
    return info.value


def test_a_directory_of_pickle_checkpoints_is_refused_naming_the_card(tmp_path):
    directory = model_dir(tmp_path, {"pytorch_model.bin": "not really a pickle"})
    error = refused(card(tmp_path, directory))
    assert "pickle" in str(error) and "pytorch_model.bin" in str(error) and error.field == "model"


@pytest.mark.parametrize("name", ["weights.pt", "model.bin", "model.ckpt", "model.pth"])
def test_a_pickle_file_is_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x80\x04pickle")
    assert "pickle checkpoint" in str(refused(card(tmp_path, path)))


def test_a_file_named_gguf_that_is_not_gguf_is_refused(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"\x80\x04 a pickle in disguise")
    assert "not a GGUF file" in str(refused(card(tmp_path, path)))


def test_a_real_gguf_header_passes_the_file_check(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert locate(str(path)).gguf_file == "model.gguf"


def test_safetensors_beside_a_pickle_are_fine(tmp_path):
    directory = model_dir(tmp_path, {"pytorch_model.bin": "x", "model.safetensors": "x"})
    assert locate(str(directory)).directory == directory


def test_a_model_that_needs_its_own_code_is_refused_unless_the_card_opts_in(tmp_path):
    directory = model_dir(tmp_path, {"model.safetensors": "x"})
    (directory / "config.json").write_text(
        json.dumps({"model_type": "custom", "auto_map": {"AutoModelForCausalLM": "modeling_custom.Model"}})
    )
    error = refused(card(tmp_path, directory))
    assert error.field == "trust_remote_code" and "config.json" in str(error)
    trusted = load_persona(card(tmp_path, directory, trust_remote_code=True))
    assert trusted.trust_remote_code is True
    location = locate(str(directory), source=trusted.source, trust_remote_code=True)
    assert location.trust_remote_code is True


def test_remote_code_named_by_the_tokenizer_counts_too(tmp_path):
    directory = model_dir(
        tmp_path,
        {"model.safetensors": "x", "tokenizer_config.json": {"auto_map": {"AutoTokenizer": ["t.T", None]}}},
    )
    assert "tokenizer_config.json" in str(refused(card(tmp_path, directory)))


def test_the_cli_refuses_with_status_2_and_writes_nothing(tmp_path, capsys):
    directory = model_dir(tmp_path, {"pytorch_model.bin": "x"})
    out = tmp_path / "t.jsonl"
    code = main(["run", "-q", "Is it safe?", "--personas", str(card(tmp_path, directory)), "--out", str(out)])
    assert code == 2
    assert "pickle" in capsys.readouterr().err
    assert not out.exists()


def test_refusing_does_not_import_torch(tmp_path):
    directory = model_dir(tmp_path, {"pytorch_model.bin": "x"})
    script = (
        "import sys\nfrom agora import Debate, load_persona\n"
        f"try:\n    Debate([load_persona({str(card(tmp_path, directory))!r})])\nexcept Exception as e:\n"
        "    print(type(e).__name__)\nprint('torch' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.split() == ["UnsafeModelError", "False"], proc.stderr
