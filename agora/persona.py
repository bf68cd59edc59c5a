"""Persona cards: a contributed model together with the values it argues from.

A card is a YAML file::

    name: verdant
    model: smollm2-135m-instruct
    values: {sustainability: 0.6, public_health: 0.25, fairness: 0.15}
    description: You speak for the long-term health of the planet ...
    contributor: {name: ..., licence: Apache-2.0, model_card: https://...}
    generation: {max_new_tokens: 96, temperature: 0.0}

``model`` names a catalog model, a local model directory or GGUF file, ``NAME@http://host:port/v1`` for a model
behind an OpenAI-compatible endpoint (tuned by an optional ``endpoint:`` block), or ``BACKEND:REF`` for a backend an
installed plugin provides (see :mod:`agora.backends.registry`). Unknown fields are rejected, and every error names
the file and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from agora._yaml import read_model
from agora.errors import ConfigError
from agora.resources import builtin_dir

DEFAULT_MODEL = "smollm2-135m-instruct"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
VALUE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contributor(_Frozen):
    """Who contributed the model and under which terms (all optional)."""

    name: str | None = None
    licence: str | None = None
    model_card: str | None = None
    contact: str | None = None


class GenerationSettings(_Frozen):
    """How the persona's model generates text. Greedy unless ``temperature`` > 0."""

    max_new_tokens: int = Field(default=128, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = Field(default=None, ge=0)


class EndpointSettings(_Frozen):
    """How to talk to a model served over the OpenAI-compatible API (``model: NAME@http://host:port/v1``).

    ``api_key_env`` is only a request: the key is sent when the user's own allowlist allows that endpoint (see
    :mod:`agora.backends.credentials`), so a card cannot send a variable to a host of its choosing. The limits that
    protect the user (the request deadline, the reply size) are not card settings.
    """

    api_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        description="environment variable holding the API key, sent only where the user's allowlist allows it",
    )
    max_concurrency: int = Field(default=4, ge=1, le=1024, description="requests in flight to this endpoint")
    timeout_s: float = Field(
        default=120.0,
        gt=0.0,
        le=3600.0,
        description="each HTTP attempt as a whole, every byte of the reply included",
    )
    max_retries: int = Field(
        default=3, ge=0, le=20, description="on 429, 5xx, timeouts and connection errors"
    )
    completion_template: Literal["chatml", "plain"] | None = Field(
        default=None, description="'chatml' lets ballots be scored through /v1/completions log-probabilities"
    )


class Persona(_Frozen):
    """One contributed agent: a model reference plus stated values and a perspective."""

    name: str = Field(pattern=NAME_PATTERN)
    model: str = Field(default=DEFAULT_MODEL, min_length=1, max_length=1024)
    values: dict[str, float] = Field(min_length=1, max_length=32)
    description: str = Field(min_length=1, max_length=4000)
    contributor: Contributor = Field(default_factory=Contributor)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    weight: float = Field(default=1.0, gt=0.0, le=1e6, description="voting weight when a rule is weighted")
    trust_remote_code: bool = Field(
        default=False, description="let a local model directory run its own Python code (off unless opted in)"
    )
    endpoint: EndpointSettings | None = None
    _source: str | None = PrivateAttr(default=None)

    @property
    def source(self) -> str:
        """The card file this persona came from, or a description for personas built in Python."""
        return self._source or f"persona {self.name!r}"

    @property
    def card_file(self) -> str | None:
        """The card file this persona was loaded from; None for personas built in Python."""
        return self._source

    @field_validator("values", mode="before")
    @classmethod
    def _no_bool_weights(cls, values: object) -> object:
        # pydantic turns YAML's true/yes into 1.0 before the check below could see a bool
        if isinstance(values, dict):
            for key, weight in values.items():
                if isinstance(weight, bool):
                    raise ValueError(f"weight of value {key!r} must be a positive number, got {weight!r}")
        return values

    @field_validator("values")
    @classmethod
    def _check_values(cls, values: dict[str, float]) -> dict[str, float]:

        for key, weight in values.items():
            if not re.match(VALUE_PATTERN, key):
                raise ValueError(f"value name {key!r} must be lower_snake_case")
            if isinstance(weight, bool) or not math.isfinite(weight) or weight <= 0:
                raise ValueError(f"weight of value {key!r} must be a positive number, got {weight!r}")
        return values

    @property
    def normalised_values(self) -> dict[str, float]:
        """Stated values scaled to sum to one, largest first."""
        total = sum(self.values.values())
        return dict(sorted(((k, v / total) for k, v in self.values.items()), key=lambda kv: (-kv[1], kv[0])))

    @property
    def top_values(self) -> list[str]:
        """Value names, most important first."""
        return list(self.normalised_values)


def load_persona(path: str | Path) -> Persona:
    """Load one persona card, raising :class:`ConfigError` that names the file and field."""
    path = Path(path)
    persona = read_model(path, Persona, "persona card")
    persona._source = str(path)
    return persona


def _card_files(entry: Path) -> list[Path]:
    if entry.is_dir():
        files = sorted(p for p in entry.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise ConfigError("directory holds no persona cards (*.yaml)", source=entry)
        return files
    if not entry.exists():
        raise ConfigError("persona card or directory not found", source=entry)
    return [entry]


def load_personas(sources: Iterable[str | Path] | str | Path | None = None) -> list[Persona]:
    """Load persona cards from files and directories (default: the shipped cards).

    Duplicate names are an error naming both files.
    """
    if sources is None:
        sources = [builtin_dir("personas")]
    elif isinstance(sources, (str, Path)):
        sources = [sources]
    personas: list[Persona] = []
    seen: dict[str, Path] = {}
    for entry in sources:
        for file in _card_files(Path(entry)):
            persona = load_persona(file)
            if persona.name in seen:
                raise ConfigError(
                    f"duplicate persona name {persona.name!r} (also in {seen[persona.name]})",
                    source=file,
                    field="name",
                )
            seen[persona.name] = file
            personas.append(persona)
    if not personas:
        raise ConfigError("no persona cards given")
    return personas
