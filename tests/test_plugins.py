"""Plugins by entry points: a package installed for real (tests/plugin_pkg, built with hatchling and installed with
pip into a temporary directory) adds a backend, a rule and protocols that a debate uses by name; built-ins resolve
through the same registries; a broken plugin is one line naming it and breaks no other lookup.

The tests of errors and dispatch write a distribution's metadata by hand (a ``*.dist-info`` directory, which is
what an installed package leaves), so they run without hatchling.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from agora import Debate, Persona, load_persona
from agora.aggregation.registry import RULES, all_rules, get_rule, rule_names
from agora.backends import BACKENDS, backend_names, resolve_backend
from agora.backends.openai_backend import OpenAIBackend
from agora.backends.registry import split_model_ref
from agora.cli import main
from agora.errors import ConfigError, ModelNotFoundError, PluginError
from agora.plugins import clear_cache, load_plugin, plugins
from agora.protocol.loader import list_protocols, load_protocol, resolve_protocol_path
from agora.protocol.spec import PHASE_KINDS, phase_kind

PLUGIN_SRC = Path(__file__).resolve().parent / "plugin_pkg"
QUESTION = "Should the library open on Sundays?"


def card(tmp_path: Path, name: str, model: str, extra: str = "") -> Persona:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nmodel: '{model}'\nvalues: {{fairness: 1}}\ndescription: You are {name}.\n{extra}"
    )
    return load_persona(path)


def forget_modules(prefix: str) -> None:
    for module in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
        del sys.modules[module]


# -- the real plugin package -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory) -> Path:
    """tests/plugin_pkg built with hatchling and installed by pip into a fresh directory, once per session."""
    pytest.importorskip("hatchling", reason="building the plugin needs hatchling (in the dev extra)")
    work = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(PLUGIN_SRC, work / "src")  # the build leaves nothing in the repository
    site = work / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "-q",
            "--target",
            str(site),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    assert list(site.glob("agora_echo_plugin-0.1.0.dist-info"))
    return site


@pytest.fixture
def installed(plugin_site, monkeypatch):
    """The plugin on sys.path, with agora's plugin cache cleared before and after."""
    monkeypatch.syspath_prepend(str(plugin_site))
    clear_cache()
    yield plugin_site
    forget_modules("agora_echo")
    clear_cache()


async def test_a_debate_runs_on_the_plugins_backend_protocol_and_rule(installed, tmp_path):
    personas = [
        card(tmp_path, "ann", "echo:Yes, on Sunday afternoons"),
        card(tmp_path, "bo", "echo:Yes, on Sunday afternoons"),
        card(tmp_path, "cy", "echo:No, keep it closed"),
    ]
    debate = Debate(personas, "echo_debate", seed=3)
    assert debate.protocol.source == installed / "agora_echo" / "protocols" / "echo_debate.yaml"
    assert {type(b).__name__ for b in debate.backends.values()} == {"EchoBackend"}
    assert debate.backends["ann"] is debate.backends["bo"]  # one backend per model reference
    result = await debate.run(QUESTION, out=tmp_path / "t.jsonl")

    assert result.transcript.status == "completed"
    messages = result.transcript.messages
    assert messages and all(m.ok for m in messages)
    assert {m.model for m in messages if m.agent == "cy"} == {"echo:No, keep it closed"}
    assert result.transcript.header.models["echo:No, keep it closed"]["backend"] == "echo"
    outcome = result.outcome
    assert outcome.rule == "veto"
    assert outcome.answer == "Yes, on Sunday afternoons"
    (yes,) = [c for c, text in outcome.candidates.items() if text.startswith("Yes")]
    (no,) = [c for c, text in outcome.candidates.items() if text.startswith("No")]
    assert sorted(outcome.members[yes]) == ["ann", "bo"]
    # veto: ann and bo rank "no" last, cy ranks "yes" last
    assert outcome.scores["veto"] == {yes: -1.0, no: -2.0}
    assert outcome.scores["borda"] == {yes: 2.0, no: 1.0}
    assert outcome.dissenters == ["cy"]


async def test_a_protocol_names_the_plugins_phase_kind_and_the_round_loop_runs_it(installed, tmp_path):
    try:
        with pytest.raises(ValueError, match="unknown phase kind 'nothing'.*reflect"):
            phase_kind("nothing")  # the error lists the plugin's kind, not yet imported
        personas = [card(tmp_path, n, f"echo:{n} says yes") for n in ("ann", "bo", "cy")]
        result = await Debate(personas, "echo_reflect", seed=1).run(QUESTION)
        assert type(phase_kind("reflect")).__module__ == "agora_echo.kinds"
        t = result.transcript
        assert t.status == "completed"
        reflected = t.phase_messages(1, "reflect")
        assert [m.agent for m in reflected] == ["ann", "bo", "cy"]
        assert all(m.ok and m.seen == [f"r1.propose.{m.agent}"] for m in reflected)  # it heard only itself
        assert [e.phase for e in t.events if e.type == "phase"] == ["propose", "reflect", "vote"]
    finally:
        PHASE_KINDS.pop("reflect", None)


def test_plugin_names_are_listed_with_the_built_ins_and_built_ins_still_resolve(installed, tmp_path, caplog):
    assert {"echo", "broken", "openai", "transformers"} <= set(backend_names())
    assert set(RULES) < set(rule_names()) and "veto" in rule_names()
    assert get_rule("borda") is RULES["borda"]
    veto = get_rule("veto")
    assert veto.function is load_plugin("agora.rules", "veto")  # imported once, then kept
    assert veto.summary.startswith("veto (anti-plurality): each ballot's last choice")
    assert list(all_rules())[: len(RULES)] == list(RULES) and "veto" in all_rules()

    endpoint = resolve_backend(card(tmp_path, "remote", "smollm2@http://127.0.0.1:9/v1"))
    assert isinstance(endpoint, OpenAIBackend) and endpoint.model == "smollm2"
    with pytest.raises(ModelNotFoundError, match="unknown model 'no-such-model': not a catalog name"):
        resolve_backend(card(tmp_path, "local", "no-such-model"))

    # a plugin's protocol named like a shipped one does not shadow it; it is reported once, with its path
    with caplog.at_level(logging.WARNING, logger="agora.plugins"):
        assert resolve_protocol_path("debate") == REPO / "protocols" / "debate.yaml"
        assert load_protocol("debate").spec.rounds == 2
        paths = list_protocols()
        list_protocols()
    plugin_dir = installed / "agora_echo" / "protocols"
    assert paths[-2:] == [
        plugin_dir / "echo_debate.yaml",
        plugin_dir / "echo_reflect.yaml",
    ]  # after the shipped
    assert [p.stem for p in paths].count("debate") == 1
    shadowed = [r.getMessage() for r in caplog.records if "'debate' is not used by name" in r.getMessage()]
    assert len(shadowed) == 1 and "agora-echo-plugin 0.1.0" in shadowed[0]
    assert str(installed / "agora_echo" / "protocols" / "debate.yaml") in shadowed[0]


def test_the_broken_entry_point_fails_alone_in_one_line_naming_itself(installed, tmp_path):
    persona = card(tmp_path, "x", "broken:anything")
    for _ in range(2):  # the same line every time it is asked for
        with pytest.raises(PluginError) as info:
            resolve_backend(persona)
        message = str(info.value)
        assert "\n" not in message and info.value.field == "model"
        assert message.startswith(f"{persona.source}: field 'model': plugin 'broken'")
        assert "agora.backends: broken = agora_echo.no_such_module:Backend" in message
        assert "from agora-echo-plugin 0.1.0" in message and "ModuleNotFoundError" in message
    assert type(resolve_backend(card(tmp_path, "y", "echo:fine"))).__name__ == "EchoBackend"


def test_the_command_line_lists_the_plugins_rules_and_protocols(installed, capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "veto" in out and "each ballot's last choice loses the voter's weight" in out
    # a fresh interpreter finds the installed plugin by its metadata alone
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), str(REPO)])}
    run = subprocess.run(
        [sys.executable, "-m", "agora", "protocols"], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert any(line.startswith("echo_debate ") and "1 round, graph complete" in line for line in lines)
    assert [line.split()[0] for line in lines if line and not line[0].isspace()].count("debate") == 1
    assert "'debate' is not used by name" in run.stderr


# -- without building anything: metadata written by hand --------------------------------------------------------
def fake_distribution(site: Path, name: str, entry_points: str) -> None:
    """What pip leaves for an installed package, reduced to what entry point discovery reads."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def site(tmp_path, monkeypatch):
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    clear_cache()
    yield directory
    clear_cache()


BROKEN = """\
[agora.backends]
boom = agora_no_such_module:Backend
text = json:__doc__

[agora.rules]
kaput = agora_no_such_module:rule

[agora.protocols]
gone = agora_no_such_module
"""


def test_broken_plugins_fail_when_asked_for_and_spare_every_other_lookup(site, tmp_path, caplog):
    fake_distribution(site, "agora-broken-demo", BROKEN)
    with pytest.raises(PluginError) as info:
        resolve_backend(card(tmp_path, "a", "boom:x"))
    message = str(info.value)
    assert "plugin 'boom' (entry point agora.backends: boom = agora_no_such_module:Backend, from " in message
    assert "agora-broken-demo 1.0) failed to load: ModuleNotFoundError" in message
    with pytest.raises(PluginError, match="plugin 'text' .* is a str, not a backend factory"):
        resolve_backend(card(tmp_path, "b", "text:x"))
    with pytest.raises(PluginError, match="plugin 'kaput' .*failed to load") as info:
        get_rule("kaput", source="spec.yaml")
    assert (info.value.source, info.value.field) == ("spec.yaml", "aggregation.rule")

    assert get_rule("schulze") is RULES["schulze"]  # nothing else is affected
    assert "kaput" not in all_rules()
    with pytest.raises(ConfigError, match=r"unknown aggregation rule 'nope' \(available: .*kaput.*\)"):
        get_rule("nope")
    with caplog.at_level(logging.WARNING, logger="agora.plugins"):
        assert resolve_protocol_path("debate").stem == "debate"
        assert len(list_protocols()) == len(list((REPO / "protocols").glob("*.yaml")))
        list_protocols()
    gone = [r.getMessage() for r in caplog.records if "plugin 'gone'" in r.getMessage()]
    assert len(gone) == 1 and "failed to load: ModuleNotFoundError" in gone[0]  # logged once


def test_an_unknown_backend_names_the_card_and_lists_the_backends(site, tmp_path):
    fake_distribution(site, "agora-demo", "[agora.backends]\ndemo = agora_no_such_module:Backend\n")
    persona = card(tmp_path, "a", "nosuch:thing")
    with pytest.raises(ModelNotFoundError) as info:
        resolve_backend(persona)
    assert str(info.value) == (
        f"{persona.source}: field 'model': unknown backend 'nosuch' in model 'nosuch:thing' "
        "(available backends: demo, openai, transformers)"
    )
    assert "agora_no_such_module" not in sys.modules  # listed from metadata, not imported


def test_a_name_two_distributions_advertise_is_refused_naming_both(site, tmp_path):
    fake_distribution(site, "agora-one", "[agora.rules]\ntwin = json:dumps\n")
    fake_distribution(site, "agora-two", "[agora.rules]\ntwin = json:loads\n")
    assert plugins("agora.rules")["twin"].rivals
    with pytest.raises(PluginError, match=r"plugin 'twin' .* is also advertised by agora-(one|two) 1.0"):
        get_rule("twin")


def test_references_pick_their_backend_and_plain_ones_keep_their_meaning(monkeypatch, tmp_path):
    assert split_model_ref("smollm2-135m-instruct") == ("transformers", "smollm2-135m-instruct")
    assert split_model_ref("./models/my:model.gguf") == ("transformers", "./models/my:model.gguf")
    assert split_model_ref("C:\\models\\m.gguf") == ("transformers", "C:\\models\\m.gguf")
    assert split_model_ref("m@http://h:1/v1") == ("openai", "m@http://h:1/v1")
    assert split_model_ref("llama3:8b@http://h:1/v1") == ("openai", "llama3:8b@http://h:1/v1")
    assert split_model_ref("openai:m@http://h:1/v1") == ("openai", "m@http://h:1/v1")
    assert split_model_ref("transformers:smollm2-135m-instruct") == ("transformers", "smollm2-135m-instruct")

    seen = []

    def recording(ref, persona):
        seen.append((ref, persona.name))
        return OpenAIBackend.from_ref("m@http://h:1/v1")

    monkeypatch.setitem(BACKENDS, "transformers", recording)
    monkeypatch.setitem(BACKENDS, "mine", recording)  # an application registers a backend in code
    cache: dict = {}
    first = resolve_backend(card(tmp_path, "a", "smollm2-135m-instruct"), cache)
    assert resolve_backend(card(tmp_path, "b", "smollm2-135m-instruct"), cache) is first
    resolve_backend(card(tmp_path, "c", "mine:some ref"), cache)
    assert seen == [("smollm2-135m-instruct", "a"), ("some ref", "c")]

    with pytest.raises(ModelNotFoundError, match="an endpoint block needs model") as info:
        resolve_backend(card(tmp_path, "d", "mine:x", extra="endpoint: {max_concurrency: 2}\n"))
    assert info.value.field == "endpoint"
    with pytest.raises(PluginError, match="backend 'mine' returned a str, not an agora.backends.Backend"):
        monkeypatch.setitem(BACKENDS, "mine", lambda ref, persona: "not a backend")
        resolve_backend(card(tmp_path, "e", "mine:y"))
