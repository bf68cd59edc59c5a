"""User-facing errors.

Every mistake a user can make (a malformed card, an unknown model, a graph naming an agent that does not exist)
raises :class:`AgoraError`. Its message is one line that names the file, field or agent at fault; the CLI prints it
and exits with status 2 without writing anything.
"""

from __future__ import annotations

from pathlib import Path


class AgoraError(Exception):
    """An error caused by the user's input, reported as one line."""

    def __init__(self, message: str, *, source: str | Path | None = None, field: str | None = None):
        self.source = str(source) if source is not None else None
        self.field = field
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ": ".join(where)
        line = f"{prefix}: {self.detail}" if prefix else self.detail
        return one_line(line)


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so an error stays on one line."""
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


class ConfigError(AgoraError):
    """A persona card, protocol spec, graph or template is invalid."""


class PluginError(ConfigError):
    """An installed plugin (an entry point in one of agora's groups) cannot be loaded or is not what its group
    expects. The message names the plugin's distribution, its entry point and the cause."""


class ModelNotFoundError(AgoraError):
    """A persona names a model that no backend can resolve."""


class DebateError(AgoraError):
    """A debate could not run to the end (for example, too few agents answered)."""


class TranscriptError(AgoraError):
    """A transcript file cannot be read."""


def pydantic_error_line(exc: object, source: str | Path | None, kind: str) -> AgoraError:
    """Turn a pydantic ``ValidationError`` into one readable :class:`ConfigError` line."""
    errors = exc.errors()  # type: ignore[attr-defined]
    first = errors[0]
    loc = ".".join(str(part) for part in first.get("loc", ())) or None
    msg = first.get("msg", "invalid value")
    if first.get("type") == "extra_forbidden":
        msg = f"unknown field in {kind}"
    elif first.get("type") == "missing":
        msg = f"required field missing from {kind}"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return ConfigError(f"{msg}{more}", source=source, field=loc)
