"""Credentials go only where the user's allowlist sends them: a card's (or a resumed transcript's)
``api_key_env`` never sends a key to a host the user did not name. Checked against a real loopback server that
records the Authorization header, through ``Debate``, ``agora run``-style cards, ``agora resume`` of a crafted
transcript, and the ``agora personas`` listing."""

from __future__ import annotations

import json
import logging

import pytest
import yaml
from http_fault_server import FaultServer, persona

from agora import ConfigError, Debate, ScriptedBackend, Transcript
from agora.backends.credentials import (
    ENV_VAR,
    config_file,
    credential_for,
    entries_from_env,
    place_of,
)
from agora.cli import main

SECRET = "s3cret-value-never-to-leave"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No allowlist but the test's own: an empty config dir, no AGORA_ENDPOINT_KEYS; a secret in the environment."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("VICTIM_SECRET", SECRET)
    monkeypatch.setenv("GPU_KEY", "gpu-key")
    monkeypatch.chdir(tmp_path)


def authorizations(server: FaultServer) -> list[str | None]:
    return [r.headers.get("authorization") for r in server.requests]


def origin(server: FaultServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def debate_of(server: FaultServer, **endpoint) -> Debate:
    people = [persona(n, f"m@{server.url}", **endpoint) for n in ("alpha", "bravo")]
    return Debate(people, "vote")


# -- the allowlist --------------------------------------------------------------------------------------------------
def test_entries_match_scheme_host_port_and_path_segments():
    (entry,) = entries_from_env("http://GPU-box:8000/v1=GPU_KEY")
    assert entry.place.covers(place_of("http://gpu-box:8000/v1"))
    assert entry.place.covers(place_of("http://gpu-box:8000/v1/"))
    assert entry.place.covers(place_of("http://gpu-box:8000/v1/extra"))
    for other in (
        "https://gpu-box:8000/v1",  # another scheme
        "http://gpu-box:8001/v1",  # another port
        "http://gpu-box/v1",  # port 80
        "http://gpu-box.evil.com:8000/v1",  # another host
        "http://evil.com:8000/v1?x=gpu-box",
        "http://gpu-box:8000/v10",  # a prefix of the text, not of the path segments
        "http://gpu-box:8000/",
    ):
        assert not entry.place.covers(place_of(other)), other
    (root,) = entries_from_env("https://api.example.com=K")
    assert root.place.covers(place_of("https://api.example.com:443/anything/v1"))
    assert not root.place.covers(place_of("http://api.example.com/v1"))


def test_tricky_urls_are_judged_by_the_host_httpx_connects_to():
    (entry,) = entries_from_env("http://allowed.host=GPU_KEY")
    for url in (
        "http://evil.com?@allowed.host/v1",
        "http://evil.com#@allowed.host/v1",
        "http://allowed.host@evil.com/v1",
    ):
        assert not entry.place.covers(place_of(url)), url
        assert not credential_for(
            url, "GPU_KEY", {ENV_VAR: "http://allowed.host=GPU_KEY", "GPU_KEY": "k"}
        ).sent


@pytest.mark.parametrize(
    "value, problem",
    [
        ("gpu-box:8000", "not URL=VARIABLE"),
        ("http://gpu-box:8000=", "not an environment variable name"),
        ("http://gpu-box:8000=sk-live-1234", "not an environment variable name"),
        ("ftp://gpu-box=K", "not an http:// or https:// URL"),
        ("http://gpu-box/v1?token=1=K", "no user, query or fragment"),
    ],
)
def test_a_malformed_allowlist_is_refused_naming_it(value, problem):
    with pytest.raises(ConfigError, match=problem) as info:
        entries_from_env(value)
    assert ENV_VAR in str(info.value)


def test_the_key_is_sent_only_for_an_allowed_origin_and_the_reason_never_holds_it():
    env = {ENV_VAR: "http://a:1=GPU_KEY, https://b/v1=OTHER", "GPU_KEY": "k1", "VICTIM_SECRET": SECRET}
    sent = credential_for("http://a:1/v1", None, env)
    assert sent.sent and sent.headers() == {"Authorization": "Bearer k1"} and sent.variable == "GPU_KEY"
    asked = credential_for("http://a:1/v1", "VICTIM_SECRET", env)  # the card asks for another variable
    assert asked.key == "k1" and "$VICTIM_SECRET is ignored" in asked.reason
    refused = credential_for("http://evil:1/v1", "VICTIM_SECRET", env)
    assert not refused.sent and refused.headers() == {} and "not sent" in refused.reason
    unset = credential_for("https://b/v1", None, env)
    assert not unset.sent and "$OTHER" in unset.reason and "is not set" in unset.reason
    for credential in (sent, asked, refused, unset):
        assert (
            "k1" not in credential.reason
            and SECRET not in credential.reason
            and SECRET not in repr(credential)
        )


def test_the_user_file_allows_keys_and_the_environment_wins(tmp_path):
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text("http://a:1: GPU_KEY\nhttp://c:3/v1: VICTIM_SECRET\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "GPU_KEY": "from-file", "OTHER": "from-env"}
    assert credential_for("http://a:1/v1", None, env).key == "from-file"
    assert str(path) in credential_for("http://a:1/v1", None, env).reason
    env[ENV_VAR] = "http://a:1=OTHER"
    assert credential_for("http://a:1/v1", None, env).key == "from-env"
    path.write_text("http://a:1: [not, a, name]\n")
    with pytest.raises(ConfigError, match="not an environment variable name") as info:
        credential_for("http://a:1/v1", None, env)
    assert str(path) in str(info.value)


# -- through a real debate --------------------------------------------------------------------------------------------
async def test_a_card_cannot_send_a_variable_to_a_host_the_user_did_not_allow(caplog):
    with FaultServer() as server:
        caplog.set_level(logging.WARNING, "agora.backends.openai")
        result = await debate_of(server, api_key_env="VICTIM_SECRET").run("Is it good?")
    assert server.requests and authorizations(server) == [None] * len(server.requests)
    assert all(m.ok for m in result.transcript.messages)
    note = result.transcript.header.models[f"m@{server.url}"]["credential"]
    assert note.startswith("not sent") and "$VICTIM_SECRET" in note and origin(server) in note
    assert "not sent" in caplog.text and SECRET not in caplog.text
    assert SECRET not in json.dumps(result.transcript.header.model_dump(mode="json"))


async def test_an_allowlist_for_another_host_port_or_scheme_sends_nothing(monkeypatch):
    with FaultServer() as server:
        port = server.port
        others = f"http://127.0.0.1:{port + 1}=VICTIM_SECRET https://127.0.0.1:{port}=VICTIM_SECRET"
        monkeypatch.setenv(
            ENV_VAR, f"{others} http://localhost:{port}=VICTIM_SECRET http://127.0.0.1:{port}/v2=GPU_KEY"
        )
        await debate_of(server, api_key_env="VICTIM_SECRET").run("Is it good?")
    assert authorizations(server) == [None] * len(server.requests)


async def test_the_user_allowed_variable_is_sent_whatever_the_card_asks(monkeypatch):
    with FaultServer() as server:
        monkeypatch.setenv(ENV_VAR, f"{origin(server)}/v1=GPU_KEY")
        asking = await debate_of(server, api_key_env="VICTIM_SECRET").run("Is it good?")
        silent = await debate_of(server).run("Is it good?")
    assert authorizations(server) == ["Bearer gpu-key"] * len(server.requests)
    for result in (asking, silent):
        assert result.transcript.header.models[f"m@{server.url}"]["credential"].startswith(
            "sent from $GPU_KEY"
        )


def test_resuming_a_crafted_transcript_sends_no_credential(tmp_path, capsys):
    """A shared transcript whose personas (built in Python, so rebuilt from the header) ask for a secret and point
    at a stranger's server: ``agora resume`` runs it, and the server never sees a key."""
    with FaultServer() as server:
        people = [persona(n, f"m@{server.url}", api_key_env="VICTIM_SECRET") for n in ("alpha", "bravo")]
        out = tmp_path / "shared.jsonl"
        scripted = ScriptedBackend(lambda r: "Answer: yes. Because.")
        Debate(people, "debate", rounds=1, backend=scripted).run_sync("Is it good?", out=out)
        header_line = out.read_text().splitlines()[0]
        out.write_text(header_line + "\n")  # only the header: resume runs every phase again, over HTTP
        assert not server.requests
        assert main(["resume", str(out), "--quiet"]) == 0
    assert server.requests and authorizations(server) == [None] * len(server.requests)
    resumed = Transcript.load(out)
    assert resumed.status == "completed"
    assert SECRET not in out.read_text() and SECRET not in capsys.readouterr().err


# -- agora personas ---------------------------------------------------------------------------------------------------
def test_personas_shows_each_cards_endpoint_and_its_credential(tmp_path, capsys, monkeypatch):
    cards = tmp_path / "cards"
    cards.mkdir()
    base = {"values": {"fairness": 1}, "description": "d"}
    (cards / "a.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "asks",
                "model": "m@http://evil.example:9/v1",
                "endpoint": {"api_key_env": "VICTIM_SECRET"},
                **base,
            }
        )
    )
    (cards / "b.yaml").write_text(
        yaml.safe_dump({"name": "allowed", "model": "m@http://gpu-box:8000/v1", **base})
    )
    (cards / "c.yaml").write_text(yaml.safe_dump({"name": "local", "model": "smollm2-135m-instruct", **base}))
    monkeypatch.setenv(ENV_VAR, "http://gpu-box:8000=GPU_KEY")
    assert main(["personas", str(cards)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    asks = next(line for line in lines[lines.index("asks") :] if "endpoint:" in line)
    assert "http://evil.example:9/v1" in asks and "not sent" in asks and "$VICTIM_SECRET" in asks
    allowed = next(line for line in lines[lines.index("allowed") :] if "endpoint:" in line)
    assert "http://gpu-box:8000/v1" in allowed and "sent from $GPU_KEY" in allowed
    local = lines[lines.index("local") : lines.index("local") + 6]
    assert not any("endpoint:" in line for line in local)
    assert SECRET not in out and "gpu-key" not in out


def test_a_card_names_a_variable_not_a_key_and_an_endpoint_with_a_host():
    from agora.backends import resolve_backend
    from agora.errors import ModelNotFoundError

    with pytest.raises(Exception, match="api_key_env"):
        persona("p", "m@http://127.0.0.1:9/v1", api_key_env="sk-live-1234")
    with pytest.raises(ModelNotFoundError, match="not an http:// or https:// URL with a host") as info:
        resolve_backend(persona("p", "m@http:///v1"))
    assert info.value.field == "model"
