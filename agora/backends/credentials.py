"""Which endpoint may receive which API key: the user's own allowlist, never a card's or a transcript's word.

A persona card, or a transcript that ``agora resume`` loads again, may come from someone else. If its
``endpoint: {api_key_env: NAME}`` were obeyed as written, a card naming ``model: x@http://their-host/v1`` could
send the value of any environment variable to any server. So a key is sent only where the user's configuration
says it may go:

- ``AGORA_ENDPOINT_KEYS``, an environment variable holding ``URL=VARIABLE`` entries separated by spaces, commas
  or semicolons::

      export AGORA_ENDPOINT_KEYS="http://gpu-box:8000=VLLM_KEY https://api.example.com/v1=EXAMPLE_KEY"

- ``endpoint-keys.yaml`` in the user's configuration directory (``$XDG_CONFIG_HOME/agora``, else
  ``~/.config/agora``), a mapping of the same entries::

      http://gpu-box:8000: VLLM_KEY
      https://api.example.com/v1: EXAMPLE_KEY

An entry names the environment variable that holds the key, never the key itself. It matches an endpoint when the
scheme, host and port are the same (a missing port is the scheme's default) and its path, if it has one, is a
prefix of the endpoint's path segment by segment; the longest match wins, and the environment variable wins over
the file for the same URL. URLs are parsed by httpx, the same parser that sends the request.

The matching variable's value goes to that endpoint whether or not the card names a variable; a card's
``api_key_env`` is only a request, and a card cannot add an entry. Every decision comes with one line that says
why (naming variables, never their values), which the backend logs and records in the transcript header.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agora._yaml import read_yaml_mapping
from agora.errors import ConfigError

#: the environment variable of the user's allowlist
ENV_VAR = "AGORA_ENDPOINT_KEYS"
#: the allowlist file's name in the user's configuration directory
FILE_NAME = "endpoint-keys.yaml"

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Place:
    """Scheme, host, port and path of a URL, as httpx parses it (the path without a trailing slash)."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def covers(self, other: Place) -> bool:
        """Whether an allowlist entry at this place applies to an endpoint at ``other``."""
        if (self.scheme, self.host, self.port) != (other.scheme, other.host, other.port):
            return False
        return not self.path or other.path == self.path or other.path.startswith(self.path + "/")


def place_of(url: str) -> Place:
    """Parse ``url``; raises ValueError for anything but an ``http(s)://host...`` URL."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ValueError(f"{url!r} is not a URL ({exc})") from None
    scheme = parsed.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parsed.host:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host")
    return Place(scheme, parsed.host.lower(), parsed.port or _DEFAULT_PORTS[scheme], parsed.path.rstrip("/"))


@dataclass(frozen=True)
class Entry:
    """One allowlist entry: endpoints under ``place`` may receive the value of ``variable``."""

    place: Place
    url: str
    variable: str
    source: str  # where the user wrote it: AGORA_ENDPOINT_KEYS or the file's path


def _entry(url: str, variable: object, source: str) -> Entry:
    if not isinstance(variable, str) or not _VARIABLE.match(variable):
        raise ConfigError(
            f"{variable!r} is not an environment variable name (give the variable's NAME, not the key)",
            source=source,
            field=url,
        )
    try:
        place = place_of(url)
        parsed = httpx.URL(url)
    except ValueError as exc:
        raise ConfigError(str(exc), source=source, field=url) from None
    if parsed.userinfo or parsed.query or parsed.fragment:
        raise ConfigError("an allowlist URL has no user, query or fragment", source=source, field=url)
    return Entry(place, url, variable, source)


def entries_from_env(value: str) -> list[Entry]:
    """The entries of ``AGORA_ENDPOINT_KEYS``: ``URL=VARIABLE`` separated by spaces, commas or semicolons."""
    entries = []
    for item in re.split(r"[\s,;]+", value.strip()):
        if not item:
            continue
        url, sep, variable = item.rpartition("=")
        if not sep or not url:
            raise ConfigError(f"entry {item!r} is not URL=VARIABLE", source=ENV_VAR)
        entries.append(_entry(url, variable, ENV_VAR))
    return entries


def config_file(environ: Mapping[str, str] | None = None) -> Path:
    """The user's allowlist file (which need not exist)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agora" / FILE_NAME


def entries_from_file(path: Path) -> list[Entry]:
    """The entries of the user's allowlist file, a YAML mapping ``URL: VARIABLE``; none when it does not exist."""
    if not path.is_file():
        return []
    data = read_yaml_mapping(path, "endpoint keys")
    return [_entry(str(url), variable, str(path)) for url, variable in data.items()]


def allowlist(environ: Mapping[str, str] | None = None) -> list[Entry]:
    """Every entry the user configured: the environment variable's first, then the file's."""
    environ = os.environ if environ is None else environ
    return entries_from_env(environ.get(ENV_VAR, "")) + entries_from_file(config_file(environ))


@dataclass(frozen=True)
class Credential:
    """What is sent to one endpoint: the key of ``variable``, or nothing; ``reason`` says why in one line."""

    origin: str
    variable: str | None
    reason: str
    key: str | None = field(default=None, repr=False)

    @property
    def sent(self) -> bool:
        return self.key is not None

    def headers(self) -> dict[str, str]:
        """The request headers that carry the key (none when nothing is sent)."""
        return {"Authorization": f"Bearer {self.key}"} if self.key is not None else {}


def credential_for(url: str, requested: str | None, environ: Mapping[str, str] | None = None) -> Credential:
    """The credential the user allows for the endpoint at ``url``; ``requested`` is the card's ``api_key_env``.

    Raises :class:`ConfigError` for a malformed allowlist (naming where it is) or ValueError for a bad ``url``.
    """
    environ = os.environ if environ is None else environ
    place = place_of(url)
    matches = [e for e in allowlist(environ) if e.place.covers(place)]
    if not matches:
        if requested is None:
            return Credential(place.origin, None, "none")
        return Credential(
            place.origin,
            None,
            f"not sent: the card asks for ${requested}, but no entry of the user's {ENV_VAR} or {FILE_NAME} "
            f"allows a key for {place.origin}",
        )
    best = max(matches, key=lambda e: len(e.place.path))  # stable: the first of equal length wins
    where = f"allowed for {best.url} by {best.source}"
    key = environ.get(best.variable)
    if not key:
        return Credential(place.origin, None, f"not sent: ${best.variable} ({where}) is not set")
    ignored = (
        f"; the card's ${requested} is ignored"
        if requested is not None and requested != best.variable
        else ""
    )
    return Credential(place.origin, best.variable, f"sent from ${best.variable} ({where}){ignored}", key)
