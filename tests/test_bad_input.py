"""The bad-input table: every malformed input a user can hand the command line is refused the same way.

Each entry starts from a valid setup of the user's own (three persona cards in a directory, a copy of the debate
protocol with its templates, a ballot file) and breaks one thing. Run through ``agora``'s command line, each must
print exactly one line on stderr naming the file and the field, exit with status 2, and write nothing: the run points
``--out`` into the same temporary directory, which must be unchanged afterwards. Nothing here loads a model: the
valid setup names the real default model, the engine is replaced by a guard that fails the test if a bad input ever
reaches it, and the test checks that torch was not even imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import PROTOCOLS

from agora import Debate, ScriptedBackend, load_personas, load_protocol
from agora.cli import main
from agora.run.engine import Engine

QUESTION = "Should the town square be closed to cars?"
NAMES = ("alpha", "bravo", "charlie")


# -- the valid setup ------------------------------------------------------------------------------------------------
def card(name: str, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": name,
        "values": {"fairness": 0.6, "public_health": 0.4},
        "description": f"You are {name}, who weighs fairness first.",
    }
    data.update(changes)
    return data


def setup(root: Path) -> None:
    cards = root / "cards"
    cards.mkdir()
    for name in NAMES:
        (cards / f"{name}.yaml").write_text(yaml.safe_dump(card(name)), encoding="utf-8")
    proto = root / "proto"
    proto.mkdir()
    shutil.copytree(PROTOCOLS / "debate", proto / "debate")
    shutil.copy(PROTOCOLS / "debate.yaml", proto / "spec.yaml")
    ballots = {
        "ballots": [
            {"voter": "alice", "ranking": ["A", "B", "C"]},
            {"voter": "bob", "ranking": ["B", ["A", "C"]], "weight": 2},
            {"voter": "carol", "utilities": {"A": 0.2, "B": 0.5, "C": 0.3}},
        ]
    }
    (root / "ballots.json").write_text(json.dumps(ballots), encoding="utf-8")
    (root / "out").mkdir()


def run_argv(root: Path, *extra: str) -> list[str]:
    """``agora run`` on the user's own cards and spec, writing into ``root/out``."""
    return [
        "run",
        str(root / "proto" / "spec.yaml"),
        "--question",
        QUESTION,
        "--personas",
        str(root / "cards"),
        "--out",
        str(root / "out" / "t.jsonl"),
        "--quiet",
        *extra,
    ]


def edit_yaml(path: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def edit_card(root: Path, stem: str, **changes: object) -> Path:
    path = root / "cards" / f"{stem}.yaml"
    edit_yaml(path, lambda d: d.update(changes))
    return path


def edit_spec(root: Path, change: Callable[[dict], None]) -> Path:
    path = root / "proto" / "spec.yaml"
    edit_yaml(path, change)
    return path


def write_template(root: Path, name: str, text: str | bytes) -> Path:
    path = root / "proto" / "debate" / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def phase(data: dict, name: str) -> dict:
    return next(p for p in data["phases"] if p["name"] == name)


@dataclass(frozen=True)
class Case:
    """One malformed input: ``build(root)`` breaks the valid setup and returns (argv, the file the line must name,
    the field or flag it must name, other words it must contain)."""

    id: str
    build: Callable[[Path], tuple[list[str], Path | None, str, tuple[str, ...]]]


CASES: list[Case] = []


def case(fn: Callable[[Path], tuple[list[str], Path | None, str, tuple[str, ...]]]) -> Callable:
    CASES.append(Case(fn.__name__.removeprefix("case_").replace("_", "-"), fn))
    return fn


# -- persona cards --------------------------------------------------------------------------------------------------
@case
def case_card_yaml_syntax_error(root):
    path = root / "cards" / "bravo.yaml"
    path.write_text("name: bravo\nvalues: {fairness: 1\ndescription: x\n", encoding="utf-8")
    return run_argv(root), path, "line 3", ("YAML syntax error",)


@case
def case_card_bad_indentation(root):
    path = root / "cards" / "bravo.yaml"
    path.write_text(
        "name: bravo\nvalues:\n  fairness: 1\n public_health: 2\ndescription: x\n", encoding="utf-8"
    )
    return run_argv(root), path, "line 4", ("YAML syntax error",)


@case
def case_card_duplicate_key(root):
    path = root / "cards" / "bravo.yaml"
    path.write_text(
        "name: bravo\nvalues: {fairness: 1}\ndescription: x\nvalues: {liberty: 1}\n", encoding="utf-8"
    )
    return run_argv(root), path, "field 'values'", ("twice",)


@case
def case_card_is_a_list(root):
    path = root / "cards" / "bravo.yaml"
    path.write_text("- name: bravo\n- values: {fairness: 1}\n", encoding="utf-8")
    return run_argv(root), path, "mapping", ("list",)


@case
def case_card_empty_file(root):
    path = root / "cards" / "bravo.yaml"
    path.write_text("", encoding="utf-8")
    return run_argv(root), path, "mapping", ("empty",)


@case
def case_card_python_tag(root):
    path = root / "cards" / "bravo.yaml"
    path.write_text(
        "name: bravo\nvalues: {fairness: 1}\ndescription: !!python/object/apply:os.system ['touch pwned']\n",
        encoding="utf-8",
    )
    return run_argv(root), path, "line 3", ("python/object/apply",)


@case
def case_card_unknown_field(root):
    return (
        run_argv(root),
        edit_card(root, "bravo", favourite_colour="red"),
        "field 'favourite_colour'",
        ("unknown field",),
    )


@case
def case_card_missing_description(root):
    path = root / "cards" / "bravo.yaml"
    edit_yaml(path, lambda d: d.pop("description"))
    return run_argv(root), path, "field 'description'", ("required",)


@case
def case_card_values_wrong_type(root):
    return run_argv(root), edit_card(root, "bravo", values=["fairness", "liberty"]), "field 'values'", ()


@case
def case_card_description_wrong_type(root):
    return run_argv(root), edit_card(root, "bravo", description={"text": "hi"}), "field 'description'", ()


@case
def case_card_negative_weight(root):
    path = edit_card(root, "bravo", values={"fairness": -0.5, "liberty": 1})
    return run_argv(root), path, "field 'values'", ("fairness", "positive")


@case
def case_card_non_numeric_weight(root):
    path = edit_card(root, "bravo", values={"fairness": "lots"})
    return run_argv(root), path, "field 'values.fairness'", ("number",)


@case
def case_card_boolean_weight(root):
    path = root / "cards" / "bravo.yaml"
    path.write_text("name: bravo\nvalues: {fairness: yes}\ndescription: x\n", encoding="utf-8")
    return run_argv(root), path, "field 'values'", ("positive",)


@case
def case_card_nan_weight(root):
    path = root / "cards" / "bravo.yaml"
    path.write_text("name: bravo\nvalues: {fairness: .nan}\ndescription: x\n", encoding="utf-8")
    return run_argv(root), path, "field 'values'", ("positive",)


@case
def case_card_negative_voting_weight(root):
    return run_argv(root), edit_card(root, "bravo", weight=-1), "field 'weight'", ()


@case
def case_card_absurd_token_budget(root):
    path = edit_card(root, "bravo", generation={"max_new_tokens": 10**9})
    return run_argv(root), path, "field 'generation.max_new_tokens'", ()


@case
def case_card_unknown_model(root):
    path = edit_card(root, "alpha", model="gpt-17-ultra")
    return run_argv(root), path, "field 'model'", ("gpt-17-ultra",)


@case
def case_card_model_directory_without_config(root):
    (root / "cards" / "weights").mkdir()
    path = edit_card(root, "alpha", model=str(root / "cards" / "weights"))
    return run_argv(root), path, "field 'model'", ("config.json",)


@case
def case_card_name_with_path(root):
    return run_argv(root), edit_card(root, "bravo", name="../../etc/passwd"), "field 'name'", ()


@case
def case_duplicate_persona_names(root):
    path = edit_card(root, "charlie", name="alpha")
    return run_argv(root), path, "field 'name'", ("duplicate", "alpha.yaml")


@case
def case_card_huge_description(root):
    return run_argv(root), edit_card(root, "bravo", description="word " * 2000), "field 'description'", ()


@case
def case_card_binary_file(root):
    path = root / "cards" / "bravo.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    return run_argv(root), path, "file", ("UTF-8",)


@case
def case_card_binary_with_nul(root):
    path = root / "cards" / "bravo.yaml"
    path.write_bytes(b"name: bravo\x00\nvalues: {fairness: 1}\n")
    return run_argv(root), path, "file", ("binary",)


@case
def case_card_oversized_file(root):
    path = root / "cards" / "bravo.yaml"
    path.write_text("name: bravo\n" + "# padding\n" * 200_000, encoding="utf-8")
    return run_argv(root), path, "file", ("bytes",)


@case
def case_card_alias_bomb(root):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = root / "cards" / "bravo.yaml"
    path.write_text(
        "name: bravo\ndescription: x\nvalues: {fairness: 1}\ncontributor:\n  " + "\n  ".join(lines) + "\n",
        encoding="utf-8",
    )
    return run_argv(root), path, "field 'contributor.a0'", ("unknown field",)


@case
def case_card_key_with_newline(root):
    path = root / "cards" / "bravo.yaml"
    path.write_text(
        'name: bravo\nvalues: {fairness: 1}\ndescription: x\n"evil\\nline": 1\n', encoding="utf-8"
    )
    return run_argv(root), path, "field 'evil\\nline'", ("unknown field",)


@case
def case_personas_directory_missing(root):
    shutil.rmtree(root / "cards")
    return run_argv(root), root / "cards", "not found", ()


# -- protocol specs -------------------------------------------------------------------------------------------------
@case
def case_spec_yaml_syntax_error(root):
    path = root / "proto" / "spec.yaml"
    path.write_text("name: debate\nphases: [\n  {name: propose\n", encoding="utf-8")
    return run_argv(root), path, "line", ("YAML syntax error",)


@case
def case_spec_unknown_field(root):
    return run_argv(root), edit_spec(root, lambda d: d.update(roundz=3)), "field 'roundz'", ("unknown field",)


@case
def case_spec_absurd_rounds(root):
    return run_argv(root), edit_spec(root, lambda d: d.update(rounds=10**6)), "field 'rounds'", ()


@case
def case_spec_rounds_not_a_number(root):
    return run_argv(root), edit_spec(root, lambda d: d.update(rounds="many")), "field 'rounds'", ()


@case
def case_spec_no_phases(root):
    return run_argv(root), edit_spec(root, lambda d: d.update(phases=[])), "field 'phases'", ()


@case
def case_spec_unknown_phase_kind(root):
    path = edit_spec(root, lambda d: phase(d, "critique").update(kind="shout"))
    return run_argv(root), path, "field 'phases.1.kind'", ()


@case
def case_spec_negative_timeout(root):
    return run_argv(root), edit_spec(root, lambda d: d.update(timeout_s=-5)), "field 'timeout_s'", ()


@case
def case_spec_quorum_above_one(root):
    return run_argv(root), edit_spec(root, lambda d: d.update(quorum=2)), "field 'quorum'", ()


@case
def case_spec_unknown_rule(root):
    path = edit_spec(root, lambda d: d["aggregation"].update(rule="dictator"))
    return run_argv(root), path, "field 'aggregation.rule'", ("dictator",)


@case
def case_spec_unknown_graph_kind(root):
    return (
        run_argv(root),
        edit_spec(root, lambda d: d.update(graph={"kind": "mesh"})),
        "field 'graph.kind'",
        (),
    )


@case
def case_graph_edge_to_unknown_agent(root):
    path = edit_spec(
        root, lambda d: d.update(graph={"kind": "edges", "edges": [["alpha", "bravo"], ["bravo", "ghost"]]})
    )
    return run_argv(root), path, "field 'graph.edges[1]'", ("ghost",)


@case
def case_graph_agent_missing(root):
    path = edit_spec(root, lambda d: d.update(graph={"kind": "edges", "edges": [["alpha", "bravo"]]}))
    return run_argv(root), path, "field 'graph.edges'", ("charlie",)


@case
def case_graph_small_world_too_few_agents(root):
    path = edit_spec(root, lambda d: d.update(graph={"kind": "small_world", "k": 4}))
    return run_argv(root), path, "field 'graph.k'", ()


@case
def case_graph_star_centre_unknown(root):
    path = edit_spec(root, lambda d: d.update(graph={"kind": "star", "center": "nobody"}))
    return run_argv(root), path, "field 'graph.center'", ("nobody",)


# -- templates ------------------------------------------------------------------------------------------------------
@case
def case_template_missing(root):
    edit_spec(root, lambda d: phase(d, "critique").update(template="debate/nothing.j2"))
    return (
        run_argv(root),
        root / "proto" / "debate" / "nothing.j2",
        "field 'phases.1.template'",
        ("not found",),
    )


@case
def case_template_outside_protocol_directory(root):
    (root / "secret.j2").write_text("{{ question }}", encoding="utf-8")
    edit_spec(root, lambda d: phase(d, "critique").update(template="../secret.j2"))
    return run_argv(root), root / "proto" / "../secret.j2", "field 'phases.1.template'", ("not found",)


@case
def case_template_syntax_error(root):
    path = write_template(root, "critique.j2", "Question: {{ question }}\n{% for m in %}\n{% endfor %}\n")
    return run_argv(root), path, "field 'phases.1.template'", ("line 2",)


@case
def case_template_undefined_variable(root):
    path = write_template(root, "propose.j2", "Question: {{ question }}\nSecret: {{ api_key }}\n")
    return run_argv(root), path, "field 'phases.0.template'", ("api_key",)


@case
def case_template_misspelt_attribute(root):
    path = write_template(root, "propose.j2", "Question: {{ question }} from {{ persona.nmae }}\n")
    return run_argv(root), path, "field 'phases.0.template'", ("nmae",)


@case
def case_template_attribute_outside_sandbox(root):
    path = write_template(root, "system.j2", "{{ question.__class__.__mro__[1].__subclasses__() }}\n")
    return run_argv(root), path, "field 'system_template'", ("__class__",)


@case
def case_template_attr_filter_outside_sandbox(root):
    path = write_template(root, "propose.j2", "{{ question | attr('__class__') }}\n")
    return run_argv(root), path, "field 'phases.0.template'", ("__class__",)


@case
def case_template_reaches_for_globals(root):
    path = write_template(root, "propose.j2", "{{ cycler.__init__.__globals__.os.system('touch pwned') }}\n")
    return run_argv(root), path, "field 'phases.0.template'", ("cycler",)


@case
def case_template_memory_bomb(root):
    path = write_template(root, "propose.j2", "{{ question * 1000000000 }}\n")
    return run_argv(root), path, "field 'phases.0.template'", ("too large",)


@case
def case_template_includes_a_file_outside(root):
    path = write_template(root, "critique.j2", "{% include '/etc/passwd' %}\n")
    return run_argv(root), path, "field 'phases.1.template'", ("/etc/passwd",)


@case
def case_template_unguarded_own_answer(root):
    path = write_template(root, "critique.j2", "Your answer was: {{ own.answer }}\n")
    return run_argv(root), path, "field 'phases.1.template'", ("own",)


@case
def case_template_binary_file(root):
    path = write_template(root, "vote.j2", b"\xff\xfe\x00binary\x00")
    return run_argv(root), path, "field 'phases.3.template'", ("UTF-8",)


@case
def case_template_oversized(root):
    path = write_template(root, "propose.j2", "{{ question }}\n" + "x" * 2_000_000)
    return run_argv(root), path, "field 'phases.0.template'", ("bytes",)


# -- command-line arguments -----------------------------------------------------------------------------------------
@case
def case_question_empty(root):
    argv = run_argv(root)
    argv[argv.index("--question") + 1] = "   "
    return argv, None, "field 'question'", ("empty",)


@case
def case_question_huge(root):
    argv = run_argv(root)
    argv[argv.index("--question") + 1] = "why? " * 2000
    return argv, None, "field 'question'", ("characters",)


@case
def case_rounds_flag_absurd(root):
    return run_argv(root, "--rounds", "100000"), root / "proto" / "spec.yaml", "field 'rounds'", ()


@case
def case_rounds_flag_zero(root):
    return run_argv(root, "--rounds", "0"), root / "proto" / "spec.yaml", "field 'rounds'", ()


@case
def case_rounds_flag_not_a_number(root):
    return run_argv(root, "--rounds", "many"), None, "--rounds", ("invalid int value: 'many'",)


@case
def case_question_missing(root):
    argv = run_argv(root)
    del argv[argv.index("--question") : argv.index("--question") + 2]
    return argv, None, "--question", ("required",)


@case
def case_seed_negative(root):
    return run_argv(root, "--seed", "-3"), None, "field 'seed'", ()


@case
def case_only_names_unknown_persona(root):
    return run_argv(root, "--only", "alpha,zulu"), None, "field '--only'", ("zulu",)


@case
def case_out_is_a_directory(root):
    argv = run_argv(root)
    argv[argv.index("--out") + 1] = str(root / "out")
    return argv, root / "out", "field '--out'", ("directory",)


@case
def case_out_inside_a_file(root):
    (root / "out" / "taken").write_text("not a directory", encoding="utf-8")
    argv = run_argv(root)
    argv[argv.index("--out") + 1] = str(root / "out" / "taken" / "t.jsonl")
    return argv, root / "out" / "taken" / "t.jsonl", "field '--out'", ("taken",)


@case
def case_out_in_proc(root):
    # /proc passes every permission check for root, but takes no new file: the pre-check must try one
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    argv = run_argv(root)
    argv[argv.index("--out") + 1] = "/proc/x.jsonl"
    return argv, Path("/proc/x.jsonl"), "field '--out'", ("'/proc' is not writable",)


@case
def case_out_in_a_read_only_directory(root):
    locked = root / "out" / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.access(locked, os.W_OK) and os.geteuid() == 0:
        pytest.skip("root writes into a read-only directory (see test_cli's simulated refusal)")
    argv = run_argv(root)
    argv[argv.index("--out") + 1] = str(locked / "t.jsonl")
    return argv, locked / "t.jsonl", "field '--out'", ("not writable",)


@case
def case_out_is_not_a_regular_file(root):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    os.mkfifo(root / "out" / "pipe.jsonl")
    argv = run_argv(root)
    argv[argv.index("--out") + 1] = str(root / "out" / "pipe.jsonl")
    return argv, root / "out" / "pipe.jsonl", "field '--out'", ("not a regular file",)


# -- ballot files and transcripts -----------------------------------------------------------------------------------
def ballots_argv(root: Path, *extra: str) -> list[str]:
    return ["aggregate", str(root / "ballots.json"), *extra]


def edit_ballots(root: Path, change: Callable[[dict], None]) -> Path:
    path = root / "ballots.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@case
def case_ballots_json_syntax_error(root):
    path = root / "ballots.json"
    path.write_text('{"ballots": [{"voter": "alice", "ranking": ["A", "B"]}', encoding="utf-8")
    return ballots_argv(root), path, "line 1", ("YAML syntax error",)


@case
def case_ballots_negative_weight(root):
    path = edit_ballots(root, lambda d: d["ballots"][1].update(weight=-2))
    return ballots_argv(root), path, "field 'ballots.1.weight'", ()


@case
def case_ballots_non_numeric_utility(root):
    path = edit_ballots(root, lambda d: d["ballots"][2]["utilities"].update(B="high"))
    return ballots_argv(root), path, "field 'ballots.2.utilities.B'", ()


@case
def case_ballots_unknown_candidate(root):
    path = edit_ballots(root, lambda d: d.update(candidates=["A", "B"]))
    return ballots_argv(root), path, "field 'ballots.0'", ("'C'",)


@case
def case_ballots_duplicate_voter(root):
    path = edit_ballots(root, lambda d: d["ballots"][1].update(voter="alice"))
    return ballots_argv(root), path, "field 'ballots.0'", ("alice",)


@case
def case_ballots_seed_not_a_number(root):
    return ballots_argv(root, "--seed", "0x1f"), None, "--seed", ("0x1f",)


@case
def case_ballots_unknown_rule(root):
    return ballots_argv(root, "--rule", "dictator"), None, "field '--rule'", ("dictator",)


@case
def case_show_corrupt_header(root):
    path = root / "t.jsonl"
    Debate(
        load_personas(root / "cards"),
        load_protocol(root / "proto" / "spec.yaml").with_overrides(rounds=1),
        backend=ScriptedBackend(lambda r: "Ranking: A, B, C" if r.phase == "vote" else "Answer: yes."),
    ).run_sync(QUESTION, out=path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0] = '{"type": "header", "protocol": "debate", "seed": "zero"}\n'
    path.write_text("".join(lines), encoding="utf-8")
    return ["show", str(path)], path, "line 1", ("not a valid event",)


async def refuse_to_run(*args, **kwargs):
    raise AssertionError("validation let a bad input through to the engine")


# -- the table ------------------------------------------------------------------------------------------------------
def tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()} | {
        str(p.relative_to(root)) + "/": 0 for p in root.rglob("*") if p.is_dir()
    }


def test_the_table_is_large_and_distinct():
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_valid_setup_is_valid(tmp_path):
    """Without a fault the setup passes every check the table relies on (so each refusal is the fault's doing)."""
    setup(tmp_path)
    personas = load_personas(tmp_path / "cards")
    debate = Debate(personas, tmp_path / "proto" / "spec.yaml", backend=ScriptedBackend(["x"]))
    assert [p.name for p in debate.personas] == list(NAMES)
    from agora.aggregation.ballot_file import load_ballots

    candidates, ballots = load_ballots(tmp_path / "ballots.json")
    assert candidates == ["A", "B", "C"] and len(ballots) == 3


@pytest.mark.parametrize("entry", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused(entry: Case, tmp_path, monkeypatch, capsys):
    root = tmp_path / "user"
    root.mkdir()
    setup(root)
    monkeypatch.chdir(root)
    argv, file, field, words = entry.build(root)
    monkeypatch.setattr(Engine, "run", refuse_to_run)
    before = tree(root)
    torch_before = "torch" in sys.modules
    capsys.readouterr()

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refuses a malformed command line itself
        code = exc.code

    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("agora: error: ")
    assert captured.out == ""
    if file is not None:
        assert str(file) in line, line
    assert field in line, line
    for word in words:
        assert word in line, line
    assert tree(root) == before, "a refused command changed or left files"
    assert not (root / "pwned").exists()
    if not torch_before:
        assert "torch" not in sys.modules, "a refused command imported torch"


def test_refused_in_a_fresh_process(tmp_path):
    """The same contract through ``python -m agora``: exit status 2, one line, nothing written."""
    root = tmp_path / "user"
    root.mkdir()
    setup(root)
    argv, file, field, _ = case_template_attribute_outside_sandbox(root)
    before = tree(root)
    proc = subprocess.run(
        [sys.executable, "-m", "agora", *argv], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and str(file) in proc.stderr and field in proc.stderr
    assert tree(root) == before


def test_an_unknown_model_after_valid_ones_is_refused_before_any_model_loads(tmp_path, monkeypatch, capsys):
    """The cards before it may bring in the model backend's code, but no model is loaded and nothing is written."""
    root = tmp_path / "user"
    root.mkdir()
    setup(root)
    monkeypatch.chdir(root)
    path = edit_card(root, "charlie", model="gpt-17-ultra")
    monkeypatch.setattr(Engine, "run", refuse_to_run)
    before = tree(root)
    assert main(run_argv(root)) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and str(path) in line and "field 'model'" in line and "gpt-17-ultra" in line
    assert tree(root) == before
    pool = sys.modules.get("agora.backends.transformers.pool")
    assert pool is None or pool.DEFAULT_POOL.report() == []
