"""What agora agrees to load: safetensors and GGUF weights, and no contributor code unless a card opts in.

Pickle checkpoints (``pytorch_model.bin``, ``*.pt``, ``*.ckpt``, ...) can run arbitrary code while they are read,
and a model directory whose config points at custom modelling code (``auto_map``) runs that code when loaded.
Both are refused before anything is read by torch or transformers; the error names the card. A card that trusts
its model's code says so with ``trust_remote_code: true``.
"""

from __future__ import annotations

import json
from pathlib import Path

from agora.errors import ModelNotFoundError

#: file suffixes of checkpoints that are read with pickle
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib"})
GGUF_MAGIC = b"GGUF"
#: files whose ``auto_map`` asks transformers to import code shipped with the model
_CODE_MAPS = ("config.json", "tokenizer_config.json", "processor_config.json")


class UnsafeModelError(ModelNotFoundError):
    """A model would be loaded in a way that can run code from its files."""


def check_file(path: Path, *, source: str | None = None) -> None:
    """Refuse anything but a GGUF file (checked by its magic bytes, not its name)."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise UnsafeModelError(
            f"{path.name} is a pickle checkpoint, which can run code when loaded; agora loads only "
            "safetensors directories and GGUF files (convert it with transformers' save_pretrained(..., "
            "safe_serialization=True))",
            source=source,
            field="model",
        )
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        raise UnsafeModelError(
            f"{path.name} is not a GGUF file (a model file must be GGUF; a Hugging Face model is a directory)",
            source=source,
            field="model",
        )


def remote_code_files(directory: Path) -> list[str]:
    """Config files in ``directory`` that ask to import code shipped with the model."""
    found = []
    for name in _CODE_MAPS:
        try:
            data = json.loads((directory / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("auto_map"):
            found.append(name)
    return found


def check_directory(directory: Path, *, source: str | None = None, trust_remote_code: bool = False) -> None:
    """Refuse a model directory without safetensors weights, or one that needs its own code unless trusted."""
    if not (directory / "config.json").is_file():
        raise ModelNotFoundError(
            f"model directory {str(directory)!r} has no config.json", source=source, field="model"
        )
    if not any(directory.glob("*.safetensors")):
        pickles = sorted(p.name for p in directory.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise UnsafeModelError(
                f"model directory {str(directory)!r} holds only pickle checkpoints ({', '.join(pickles[:3])}), which "
                "can run code when loaded; agora loads safetensors only (convert with save_pretrained(..., "
                "safe_serialization=True))",
                source=source,
                field="model",
            )
        raise ModelNotFoundError(
            f"model directory {str(directory)!r} has no *.safetensors weights", source=source, field="model"
        )
    needs_code = remote_code_files(directory)
    if needs_code and not trust_remote_code:
        raise UnsafeModelError(
            f"model directory {str(directory)!r} needs its own Python code to load ({', '.join(needs_code)} "
            "has auto_map); agora does not run a model's code unless the card says trust_remote_code: true",
            source=source,
            field="trust_remote_code",
        )
