"""Fuzzing: arbitrary replies, files and YAML never raise anything but agora's own errors.

Ballot parsing must read any reply into a well-formed ranking or an abstention; loading a persona card, a protocol
spec with its templates, a ballot file or a transcript must either succeed or raise an :class:`AgoraError`.
"""

from __future__ import annotations

import shutil
import string
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import PERSONAS, PROTOCOLS
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agora import Transcript, load_persona, load_protocol
from agora.aggregation.ballot_file import load_ballots
from agora.aggregation.parse import LABELS, parse_approval, parse_ranking
from agora.errors import AgoraError

FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# -- ballot parsing -------------------------------------------------------------------------------------------------
TOKENS = [
    "Ranking:",
    "ranking =",
    "Approve:",
    "approved:",
    "Rank",
    ", ",
    " > ",
    " then ",
    " / ",
    "\n",
    ".",
    "*",
    "`",
    "A ",
    "a ",
    "I think ",
    "the best is ",
    "Answer",
]
replies = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.one_of(st.sampled_from(TOKENS), st.sampled_from(list(string.ascii_letters)), st.text(max_size=4)),
        max_size=40,
    ).map("".join),
)
label_sets = st.integers(min_value=1, max_value=26).map(lambda n: list(LABELS[:n]))


@FUZZ
@given(replies, label_sets)
@example("Ranking: B, A, B, Z", ["A", "B", "C"])
@example("ranking: c, a", ["A", "B", "C"])
@example("", ["A"])
def test_any_reply_reads_as_a_ranking_or_an_abstention(reply, labels):
    parsed = parse_ranking(reply, labels)
    assert isinstance(parsed.method, str) and all(isinstance(n, str) for n in parsed.notes)
    if parsed.abstained:
        assert parsed.method == "abstain"
        return
    flat = [label for tier in parsed.ranking for label in tier]
    assert sorted(flat) == sorted(labels), "a ranking names every label exactly once"
    assert all(tier for tier in parsed.ranking)
    assert all(len(tier) == 1 for tier in parsed.ranking[:-1])


@FUZZ
@given(replies, label_sets)
@example("Approve: A, A, C", ["A", "B", "C"])
def test_any_reply_reads_as_approvals_or_an_abstention(reply, labels):
    parsed = parse_approval(reply, labels)
    if parsed.abstained:
        assert parsed.method == "abstain"
        return
    flat = [label for tier in parsed.ranking for label in tier]
    assert sorted(flat) == sorted(labels)
    assert 1 <= len(parsed.ranking) <= 2
    assert parsed.ranking[0] == sorted(parsed.ranking[0])


# -- files ----------------------------------------------------------------------------------------------------------
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
yaml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), inner, max_size=5),
    ),
    max_leaves=25,
)
YAML_SNIPPETS = [
    "a: 2001-13-45\n",
    "when: 2001-02-30 25:61:61\n",
    "x: !!python/object/apply:os.system ['touch pwned']\n",
    "? [1, 2]\n: 3\n",
    "a: &x [*x]\n",
    "a: *nowhere\n",
    "{" * 200 + "}" * 200 + "\n",
    "a: !!binary AAA=\n",
    "a: !!float nope\n",
    "<<: {a: 1}\nb: 2\n",
    "a: 1\na: 2\n",
    "%YAML 9.9\n---\na: 1\n",
    "--- 1\n--- 2\n",
    "\ufeffname: x\n",
    "\t- tab\n",
]
raw_files = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(YAML_SNIPPETS).map(str.encode),
    yaml_values.map(lambda v: yaml.safe_dump(v).encode()),
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def mutated(base: dict, draw_value: object, key: str, nested: str | None) -> dict:
    data = yaml.safe_load(yaml.safe_dump(base))
    if nested is not None and isinstance(data.get(key), dict):
        data[key][nested] = draw_value
    elif nested is not None and isinstance(data.get(key), list) and data[key]:
        data[key][0] = draw_value
    else:
        data[key] = draw_value
    return data


CARD = yaml.safe_load((PERSONAS / "verdant.yaml").read_text(encoding="utf-8"))
SPEC = yaml.safe_load((PROTOCOLS / "debate.yaml").read_text(encoding="utf-8"))
CARD_KEYS = [*CARD, "weight", "generation", "contributor", "unknown"]
SPEC_KEYS = [*SPEC, "quorum", "answer_max_chars", "unknown"]


@FUZZ
@given(raw_files)
@example(b"a: 2001-13-45\n")
@example(b"[" * 2000 + b"]" * 2000)
def test_any_card_file_loads_or_is_refused(scratch, raw):
    path = scratch / "card.yaml"
    path.write_bytes(raw)
    try:
        load_persona(path)
    except AgoraError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    assert not Path("pwned").exists()


@FUZZ
@given(
    st.sampled_from(CARD_KEYS),
    st.sampled_from([None, "fairness", "max_new_tokens", "temperature", "name", "x"]),
    yaml_values,
)
def test_any_card_field_value_loads_or_is_refused(scratch, key, nested, value):
    path = scratch / "card.yaml"
    path.write_text(yaml.safe_dump(mutated(CARD, value, key, nested)), encoding="utf-8")
    try:
        load_persona(path)
    except AgoraError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


@pytest.fixture(scope="module")
def spec_dir(scratch) -> Path:
    target = scratch / "proto"
    shutil.copytree(PROTOCOLS / "debate", target / "debate")
    return target


@FUZZ
@given(raw_files)
def test_any_spec_file_loads_or_is_refused(spec_dir, raw):
    path = spec_dir / "spec.yaml"
    path.write_bytes(raw)
    try:
        load_protocol(path)
    except AgoraError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


@FUZZ
@given(
    st.sampled_from(SPEC_KEYS),
    st.sampled_from([None, "kind", "rule", "template", "when", "edges", "report"]),
    yaml_values,
)
def test_any_spec_field_value_loads_or_is_refused(spec_dir, key, nested, value):
    path = spec_dir / "spec.yaml"
    path.write_text(yaml.safe_dump(mutated(SPEC, value, key, nested)), encoding="utf-8")
    try:
        load_protocol(path)
    except AgoraError as exc:
        assert "\n" not in str(exc)


JINJA_TOKENS = [
    "{{ ",
    " }}",
    "{% ",
    " %}",
    "{# ",
    " #}",
    "question",
    "persona.name",
    "persona.values",
    "own.answer",
    "inbox",
    "for m in inbox",
    "endfor",
    "if own",
    "endif",
    "else",
    "m.text",
    "loop.index",
    "|",
    "upper",
    "attr('__class__')",
    ".__class__",
    "[0]",
    "* 3",
    "** 2",
    "(",
    ")",
    "~",
    "'x'",
    "range(3)",
    "include 'debate/system.j2'",
    "set x = 1",
    "macro m()",
    "endmacro",
    "\n",
    " ",
]
templates = st.one_of(
    st.text(max_size=120), st.lists(st.sampled_from(JINJA_TOKENS), max_size=30).map("".join)
)


@FUZZ
@given(templates)
@example("(" * 3000 + "1" + ")" * 3000)
@example("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}")
@example("{% for m in inbox %}{% for n in inbox %}{{ m.text ~ n.text }}{% endfor %}{% endfor %}")
def test_any_template_loads_or_is_refused(spec_dir, text):
    path = spec_dir / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    template = spec_dir / "debate" / "critique.j2"
    template.write_text(text, encoding="utf-8")
    try:
        load_protocol(path)
    except AgoraError as exc:
        assert "\n" not in str(exc) and str(template) in str(exc)


@FUZZ
@given(raw_files)
def test_any_ballot_file_loads_or_is_refused(scratch, raw):
    path = scratch / "ballots.json"
    path.write_bytes(raw)
    try:
        load_ballots(path)
    except AgoraError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


ballot_entries = st.fixed_dictionaries(
    {"voter": st.one_of(st.text(max_size=5), st.integers())},
    optional={
        "ranking": st.lists(st.one_of(st.sampled_from("ABC"), st.lists(st.sampled_from("ABCD"), max_size=3))),
        "utilities": st.dictionaries(st.sampled_from("ABCD"), st.one_of(st.floats(), st.text(max_size=3))),
        "approved": st.lists(st.sampled_from("ABCD"), max_size=4),
        "weight": st.one_of(st.floats(), st.integers(), st.text(max_size=3)),
        "extra": scalars,
    },
)


@FUZZ
@given(
    st.lists(ballot_entries, max_size=6), st.one_of(st.none(), st.lists(st.sampled_from("ABCD"), max_size=5))
)
def test_any_ballot_list_loads_or_is_refused(scratch, ballots, candidates):
    path = scratch / "ballots.yaml"
    data: dict[str, object] = {"ballots": ballots}
    if candidates is not None:
        data["candidates"] = candidates
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        names, loaded = load_ballots(path)
    except AgoraError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert len(loaded) == len(ballots) and len(set(names)) == len(names)


@FUZZ
@given(raw_files)
def test_any_transcript_file_loads_or_is_refused(scratch, raw):
    path = scratch / "t.jsonl"
    path.write_bytes(raw)
    with pytest.raises(AgoraError):
        Transcript.load(path)  # random bytes never start with a valid header
