"""Reading YAML files safely, with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from agora.errors import ConfigError, pydantic_error_line
from agora.files import noun, read_bytes

M = TypeVar("M", bound=BaseModel)

MAX_CONFIG_BYTES = 1_000_000


class _DuplicateKey(Exception):
    def __init__(self, key: object, first: int, again: int):
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that repeats a key (the safe loader keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _DuplicateKey(key, seen[key], line)
                seen[key] = line
            except TypeError:  # an unhashable key: the safe loader refuses it below
                continue
        return super().construct_mapping(node, deep=deep)


def read_yaml_mapping(path: Path, kind: str) -> dict[str, Any]:
    """Read ``path`` as a YAML mapping; every failure is a :class:`ConfigError` naming the file."""
    raw = read_bytes(path, MAX_CONFIG_BYTES, kind)
    name = noun(kind)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{name} is not UTF-8 text", source=path) from None
    if "\x00" in text:
        raise ConfigError(f"{name} contains binary data", source=path)
    data = _plain_json(text)
    if data is not None:
        return data
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as dup:
        raise ConfigError(
            f"key {dup.key!r} appears twice (lines {dup.first} and {dup.again})",
            source=path,
            field=str(dup.key),
        ) from None
    except RecursionError:
        raise ConfigError(f"{name} nests too deeply", source=path) from None
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. a date 2001-13-45 that PyYAML cannot build
        raise ConfigError(f"invalid YAML value: {exc}", source=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"YAML syntax error{where}: {problem}", source=path) from None
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"a {kind} must be a YAML mapping, found {found}", source=path)
    return data


def _plain_json(text: str) -> dict[str, Any] | None:
    """``text`` read as a JSON object when it is one (no repeated keys, no NaN or Infinity), tens of times faster
    than the YAML reader on a large file (a ballot file of a megabyte: seconds); otherwise None, and the YAML
    reader reads it and reports any problem with its line."""
    if not text.lstrip().startswith("{"):
        return None

    def mapping(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if len(found) != len(pairs):
            raise ValueError("a key appears twice")
        return found

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(text, object_pairs_hook=mapping, parse_constant=refuse)
    except (ValueError, RecursionError):
        return None


def read_model(path: Path, model: type[M], kind: str) -> M:
    """Read ``path`` and validate it as ``model``; every failure is one :class:`ConfigError` naming file and field."""
    data = read_yaml_mapping(path, kind)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise pydantic_error_line(exc, path, kind) from None
