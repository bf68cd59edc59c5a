"""Prompt templates: Jinja2 in a sandbox, with strict undefined variables.

Templates are data shipped beside a protocol spec. They are rendered in an ``ImmutableSandboxedEnvironment`` (no
access to Python internals, no changing what they are shown) with ``StrictUndefined`` (a misspelt variable fails
loudly). Text that comes from contributors or models -- a persona's description, a proposal -- is passed in as plain
strings and is never itself rendered as a template, so Jinja2 syntax inside it stays inert text.

A template is checked when its protocol loads, before any model: its syntax, the variables it uses, every attribute
it reaches for (nothing starting with an underscore), the templates it includes (files beside it, named literally),
its size, and one trial rendering on each sample of its role's context (:mod:`agora.protocol.contexts`, whose
models also give the allowed variables). Templates get no globals (no ``range``, ``cycler``, ``lipsum``...), and
repeating a string or list beyond :data:`MAX_REPEAT` items is refused while rendering.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from agora.errors import ConfigError
from agora.files import check_file

if TYPE_CHECKING:
    from agora.protocol.contexts import TemplateContext


class ConfinedLoader(jinja2.FileSystemLoader):
    """Loads templates from ``directory`` only: a name that resolves outside it after following symbolic links (a
    link to ``/etc/passwd`` beside a spec, or a linked folder) is refused, and special files (a FIFO, a device) and
    files over :data:`MAX_TEMPLATE_BYTES` are refused before they are read."""

    def __init__(self, directory: Path):
        super().__init__(str(directory), followlinks=False)
        self.root = Path(os.path.realpath(directory))

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        for base in self.searchpath:
            path = Path(base, *jinja2.loaders.split_template_path(template))
            if not os.path.lexists(path):
                continue
            real = Path(os.path.realpath(path))
            if not real.is_relative_to(self.root):
                raise TemplateOutsideProtocol(
                    f"template {template!r} resolves outside the protocol directory"
                )
            check_file(real, MAX_TEMPLATE_BYTES, "template")
        return super().get_source(environment, template)


class TemplateOutsideProtocol(jinja2.TemplateNotFound):
    """A template name that resolves outside the protocol directory (a symbolic link)."""

    def __init__(self, message: str):
        super().__init__(message, message)


def make_environment(directory: Path) -> SandboxedEnvironment:
    """A sandboxed, strict environment without globals that loads templates from ``directory`` only."""
    env = _PromptSandbox(
        loader=ConfinedLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals.clear()
    env.filters.pop("random", None)  # unseeded: a prompt must follow from the run's seed
    env.filters = {name: _bounded_filter(name, fn) for name, fn in env.filters.items()}
    return env


MAX_TEMPLATE_BYTES = 100_000
MAX_REPEAT = 100_000  # items (characters, list elements) a `*` in a template may produce
MAX_INCLUDE_DEPTH = 8


class _PromptSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox (templates cannot change the lists and dicts they are shown), also refusing ``*``,
    ``**`` and format widths whose result would be huge (``{{ question * 10**9 }}``, ``'{:>999999999}'.format``)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(times, int)
                    and len(seq) * times > MAX_REPEAT
                ):
                    raise jinja2.exceptions.SecurityError(
                        f"'*' would build {len(seq) * times} items, too large (limit {MAX_REPEAT})"
                    )
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise jinja2.exceptions.SecurityError(f"'**' with exponent {right!r} is too large (limit 64)")
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() * right > MAX_POWER_BITS
        ):
            raise jinja2.exceptions.SecurityError(
                f"'**' would build a number of {left.bit_length() * right} bits, too large (limit {MAX_POWER_BITS})"
            )
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if getattr(value, "__name__", "") in ("format", "format_map") and isinstance(
            getattr(value, "__self__", None), str
        ):
            _check_widths(value.__self__)
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None

        def bounded(*args: Any, **kwargs: Any) -> str:
            mapping = args[0] if len(args) == 1 and isinstance(args[0], Mapping) else {}
            for item in (*args, *kwargs.values(), *mapping.values()):
                if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_REPEAT:
                    raise jinja2.exceptions.SecurityError(
                        f"format argument {item} is too large (limit {MAX_REPEAT})"
                    )
            return wrapped(*args, **kwargs)

        return bounded


MAX_POWER_BITS = 100_000


def _check_widths(fmt: str) -> None:
    """Refuse a format string whose field width or precision would build a huge string (``{:>999999999}``)."""
    for digits in re.findall(r"\d+", fmt):
        if len(digits) > 6 or int(digits) > MAX_REPEAT:
            raise jinja2.exceptions.SecurityError(f"format width {digits} is too large (limit {MAX_REPEAT})")


def _bounded_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` refusing a number argument large enough to build a huge result (``center(10**9)``, ``batch``)."""
    skip = 2 if getattr(fn, "jinja_pass_arg", None) is not None else 1  # the context, then the value itself

    @functools.wraps(fn)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[skip:], *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_REPEAT:
                raise jinja2.exceptions.SecurityError(
                    f"filter {name!r} with argument {value} is too large (limit {MAX_REPEAT})"
                )
        if name == "format" and len(args) >= skip and isinstance(args[skip - 1], str):
            _check_widths(args[skip - 1])
        return fn(*args, **kwargs)

    return bounded


def unsafe_attributes(tree: nodes.Template) -> list[tuple[str, int]]:
    """Attributes a template reaches for that the sandbox forbids (names starting with ``_``), with their lines."""
    found: list[tuple[str, int]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            name: object = node.attr
        elif isinstance(node, nodes.Getitem):
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        else:
            literal = node.args[0] if node.name == "attr" and node.args else None
            name = literal.value if isinstance(literal, nodes.Const) else None
        if isinstance(name, str) and name.startswith("_") and (name, node.lineno) not in found:
            found.append((name, node.lineno))
    return sorted(found, key=lambda item: item[1])


def _read_source(env: SandboxedEnvironment, name: str, path: Path, field: str | None) -> str:
    try:
        source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    except TemplateOutsideProtocol as exc:
        raise ConfigError(
            exc.message or "template resolves outside the protocol directory", source=path, field=field
        ) from None
    except jinja2.TemplateNotFound:
        raise ConfigError("template file not found", source=path, field=field) from None
    except ConfigError as exc:  # a special file, or one too large (agora.files)
        raise ConfigError(exc.detail, source=path, field=field) from None
    except UnicodeDecodeError:
        raise ConfigError("template is not UTF-8 text", source=path, field=field) from None
    except OSError as exc:
        raise ConfigError(f"cannot read template: {exc.strerror}", source=path, field=field) from None
    size = len(source.encode("utf-8"))
    if size > MAX_TEMPLATE_BYTES:
        raise ConfigError(
            f"template is {size} bytes, larger than the {MAX_TEMPLATE_BYTES} allowed",
            source=path,
            field=field,
        )
    if "\x00" in source:
        raise ConfigError("template contains binary data", source=path, field=field)
    return source


def _check_tree(
    env: SandboxedEnvironment,
    tree: nodes.Template,
    path: Path,
    field: str | None,
    allowed: frozenset[str],
    depth: int = 0,
) -> None:
    """Refuse unknown variables, forbidden attributes and includes that are computed or not beside the spec."""
    unknown = sorted(meta.find_undeclared_variables(tree) - allowed)
    if unknown:
        raise ConfigError(
            f"template uses undefined variable {unknown[0]!r} (available: {', '.join(sorted(allowed))})",
            source=path,
            field=field,
        )
    unsafe = unsafe_attributes(tree)
    if unsafe:
        names = ", ".join(repr(name) for name, _ in unsafe)
        raise ConfigError(
            f"template reaches for {names} at line {unsafe[0][1]}, outside what the sandbox allows",
            source=path,
            field=field,
        )
    for name in meta.find_referenced_templates(tree):
        if name is None:
            raise ConfigError("template includes a template whose name is computed", source=path, field=field)
        if depth >= MAX_INCLUDE_DEPTH:
            raise ConfigError(
                f"templates include each other deeper than {MAX_INCLUDE_DEPTH}", source=path, field=field
            )
        try:
            source = _read_source(env, name, path.parent / name, field)
            included = env.parse(source)
        except ConfigError:
            raise ConfigError(
                f"template includes {name!r}, which is not a template file beside the protocol",
                source=path,
                field=field,
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(
                f"included template {name!r} has a syntax error at line {exc.lineno}: {exc.message}",
                source=path,
                field=field,
            ) from None
        _check_tree(env, included, path, field, allowed, depth + 1)


#: a rendered prompt's largest size, in characters, and the longest a rendering may take, in seconds
MAX_RENDER_CHARS = 200_000
MAX_RENDER_SECONDS = 2.0


class RenderBudget:
    """Stops a rendering that runs past :data:`MAX_RENDER_SECONDS`, wherever it spends the time (a loop that writes
    nothing, a macro that calls itself): while the template runs, a trace function watches the frames of the
    template's own code (and nothing else) and raises :class:`jinja2.exceptions.SecurityError` once the time is up.
    The tracer the process had before (a debugger, coverage) is restored afterwards."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.ticks = 0

    def _line(self, frame: Any, event: str, arg: Any) -> Any:
        self.ticks += 1
        if self.ticks % 256 == 0 and time.monotonic() > self.deadline:
            raise jinja2.exceptions.SecurityError(f"rendering took longer than {self.seconds:g} s")
        return self._line

    def _call(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "call" and isinstance(frame.f_globals.get("environment"), _PromptSandbox):
            return self._line
        return None

    def __enter__(self) -> RenderBudget:
        self._previous = sys.gettrace()
        sys.settrace(self._call)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(self._previous)


def bounded_render(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """``template`` rendered with ``context`` within the time and size budgets (a SecurityError past either)."""
    parts: list[str] = []
    size = 0
    with RenderBudget(MAX_RENDER_SECONDS):
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_RENDER_CHARS:
                raise jinja2.exceptions.SecurityError(
                    f"the rendered prompt passed {MAX_RENDER_CHARS} characters"
                )
            parts.append(chunk)
    return "".join(parts)


class PromptTemplate:
    """One compiled template with the file it came from, for error messages."""

    def __init__(
        self,
        env: SandboxedEnvironment,
        name: str,
        source_dir: Path,
        allowed: frozenset[str],
        *,
        field: str | None = None,
    ):
        self.name = name
        self.path = source_dir / name
        self.field = field
        source = _read_source(env, name, self.path, field)
        try:
            parsed = env.parse(source)
            _check_tree(env, parsed, self.path, field, allowed)
            self._template = env.from_string(parsed)  # compile the tree already parsed
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(
                f"template syntax error at line {exc.lineno}: {exc.message}", source=self.path, field=field
            ) from None
        except RecursionError:
            raise ConfigError("template nests too deeply", source=self.path, field=field) from None
        self.source = source

    def render(self, **context: Any) -> str:
        try:
            return bounded_render(self._template, context).strip()
        except jinja2.UndefinedError as exc:
            raise self._error(f"template rendering failed: {exc.message}") from None
        except jinja2.exceptions.SecurityError as exc:
            raise self._error(f"template tried an unsafe operation: {exc}") from None
        except jinja2.TemplateError as exc:
            raise self._error(f"template rendering failed: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a template bug must name the template
            raise self._error(f"template rendering failed: {type(exc).__name__}: {exc}") from None

    def try_render(self, samples: Iterable[tuple[str, TemplateContext]]) -> None:
        """Render once on each ``(description, context)`` sample; a failure names the sample that broke it."""
        for description, context in samples:
            try:
                self.render(**context.variables())
            except ConfigError as exc:
                raise self._error(f"{exc.detail} (on a sample {description})") from None

    def _error(self, message: str) -> ConfigError:
        return ConfigError(message, source=self.path, field=self.field)
