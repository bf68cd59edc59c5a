"""Prompt templates: Jinja2 in a sandbox, with strict undefined variables.

Templates are data shipped beside a protocol spec. They are rendered in a ``SandboxedEnvironment`` (no access to
Python internals) with ``StrictUndefined`` (a misspelt variable fails loudly). Text that comes from contributors or
models -- a persona's description, a proposal -- is passed in as plain strings and is never itself rendered as a
template, so Jinja2 syntax inside it stays inert text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from .errors import ConfigError

# Variables every template may use, and those only some phases provide.
COMMON_VARIABLES = frozenset({"question", "persona", "round", "rounds", "phase", "own", "inbox", "agents"})
VOTE_VARIABLES = frozenset({"candidates"})
# What the mediator's templates see (mediator synthesis): the agents' opinions, their critiques, the statement.
MEDIATOR_VARIABLES = frozenset({"question", "round", "opinions", "critiques", "statement"})


def make_environment(directory: Path) -> SandboxedEnvironment:
    """A sandboxed, strict environment that loads templates from ``directory`` only."""
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


class PromptTemplate:
    """One compiled template with the file it came from, for error messages."""

    def __init__(self, env: SandboxedEnvironment, name: str, source_dir: Path, allowed: frozenset[str]):
        self.name = name
        self.path = source_dir / name
        try:
            source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            raise ConfigError("template file not found", source=self.path) from None
        except UnicodeDecodeError:
            raise ConfigError("template is not UTF-8 text", source=self.path) from None
        try:
            parsed = env.parse(source)
            self._template = env.from_string(parsed)  # compile the tree already parsed
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(
                f"template syntax error at line {exc.lineno}: {exc.message}", source=self.path
            ) from None
        unknown = sorted(meta.find_undeclared_variables(parsed) - allowed)
        if unknown:
            raise ConfigError(
                f"template uses undefined variable {unknown[0]!r} (available: {', '.join(sorted(allowed))})",
                source=self.path,
            )
        self.source = source

    def render(self, **context: Any) -> str:
        try:
            return self._template.render(**context).strip()
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"template rendering failed: {exc.message}", source=self.path) from None
        except jinja2.exceptions.SecurityError as exc:
            raise ConfigError(f"template tried an unsafe operation: {exc}", source=self.path) from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"template rendering failed: {exc}", source=self.path) from None
        except Exception as exc:  # noqa: BLE001 - a template bug must name the template
            raise ConfigError(
                f"template rendering failed: {type(exc).__name__}: {exc}", source=self.path
            ) from None
