"""Task sets: every loader reads the real packaged data; answers are read from free text and scored."""

from __future__ import annotations

import pytest

from agora.aggregation.parse import LABELS
from agora.errors import ConfigError
from agora.tasks import TASKS, TaskItem, all_items, extract, gold_value, is_correct, load_task
from agora.tasks.items import MAX_CONTEXT_CHARS
from agora.tasks.scoring import canonical_number, extract_choice, extract_number, extract_yes_no
from agora.tasks.sources import TaskDataMissing, bigbench_task, package_dir

# item counts of the packaged data (MMLU: 3 questions longer than the prompt limit are left out)
COUNTS = {
    "boolq": 3270,
    "arc-easy": 2376,
    "commonsense-qa": 1221,
    "gsm8k": 1319,
    "mmlu": 2847,
    "strategy-qa": 2290,
    "moral-permissibility": 342,
}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_loader_yields_well_formed_items(name):
    items = all_items(name)
    assert len(items) == COUNTS[name]
    assert len({i.id for i in items}) == len(items)
    for item in items:
        assert item.task == name and item.question.strip()
        prompt = item.prompt()
        assert item.question.strip() in prompt
        if item.kind == "choice":
            assert 2 <= len(item.choices) <= 5 and 0 <= item.gold < len(item.choices)
            for i, choice in enumerate(item.choices):
                assert f"{LABELS[i]}. {choice}" in prompt
        elif item.kind == "yesno":
            assert item.gold in ("yes", "no")
        else:
            assert canonical_number(str(item.gold)) is not None
        # the gold answer, written out, scores as correct
        assert is_correct(item, f"Answer: {item.gold_text}")


@pytest.mark.parametrize("name", sorted(TASKS))
def test_both_answers_occur(name):
    golds = {gold_value(i) for i in all_items(name)}
    assert len(golds) >= 2


def test_known_items():
    arc = {i.id: i for i in all_items("arc-easy")}["Mercury_417466"]
    assert (
        arc.question
        == "Which statement best explains why photosynthesis is the foundation of most food webs?"
    )
    assert arc.gold_text == "A. Sunlight is the source of energy for nearly all ecosystems."
    gsm = all_items("gsm8k")[0]
    assert gsm.question.startswith("Janet’s ducks lay 16 eggs per day.") and gsm.gold == "18"
    boolq = all_items("boolq")[0]
    assert boolq.question == "Does ethanol take more energy make that produces?" and boolq.gold == "no"
    assert boolq.context.startswith("Ethanol fuel --")
    strategy = all_items("strategy-qa")[1]
    assert strategy.question == "Hydrogen's atomic number squared exceeds number of Spice Girls?"
    assert strategy.gold == "no"
    trolley = all_items("moral-permissibility")[0]
    assert trolley.question.endswith("Do you turn the trolley?") and trolley.gold == "yes"
    mmlu = all_items("mmlu")[0]
    assert mmlu.choices[3] == "$0 $25000 $0" and mmlu.gold == 3


def test_subsets_are_deterministic_and_nested():
    a = load_task("arc-easy", 10, seed=3)
    assert a == load_task("arc-easy", 10, seed=3)
    assert load_task("arc-easy", 4, seed=3) == a[:4]
    assert a != load_task("arc-easy", 10, seed=4)
    assert len({i.id for i in a}) == 10
    everything = load_task("moral-permissibility", 10_000)
    assert sorted(everything, key=lambda i: int(i.id)) == all_items("moral-permissibility")
    with pytest.raises(ConfigError, match="at least one item"):
        load_task("boolq", 0)
    with pytest.raises(ConfigError, match="unknown task 'boolqq'"):
        load_task("boolqq")


def test_long_contexts_are_cut():
    item = TaskItem("t", "1", "Is it?", "yesno", "yes", context="word " * 1000)
    prompt = item.prompt()
    assert len(prompt) < MAX_CONTEXT_CHARS + 100 and prompt.endswith("Is it?\nReply yes or no.")


def test_missing_package_is_named(monkeypatch, tmp_path):
    with pytest.raises(TaskDataMissing, match="'no-such-dist' is not installed.*pip install --no-deps"):
        package_dir("no_such_module_xyz", "no-such-dist")
    monkeypatch.setenv("AGORA_DATA", str(tmp_path))
    with pytest.raises(TaskDataMissing, match="bigbench-1.0.0.tar.gz.*pip download --no-deps bigbench"):
        bigbench_task("strategyqa")


CHOICES = ("cellular telephone", "television", "refrigerator", "airplane")


@pytest.mark.parametrize(
    ("text", "expected", "method"),
    [
        ("Answer: B", "B", "answer-line"),
        ("The correct answer is (C) refrigerator.", "C", "answer-line"),
        ("**Answer:** D. airplane", "D", "answer-line"),
        ("B. television, because it came later.", "B", "leading-letter"),
        ("(A) cellular telephone", "A", "leading-letter"),
        ("C", "C", "leading-letter"),
        ("I would pick option D here.", "D", "option-word"),
        ("A cellular telephone is the newest of these.", "A", "option-text"),
        ("The refrigerator came before the airplane.", "C", "option-text"),
        # a reply that restates the options is no answer, unless it says which one
        ("A. cellular telephone\nB. television\nC. refrigerator", None, "none"),
        ("A. cellular telephone\nB. television\nThe correct answer is B.", "B", "answer-line"),
        ("answer is e", None, "none"),  # no such option, and lower case
        ("I am not sure.", None, "none"),
        ("", None, "none"),
    ],
)
def test_extract_choice(text, expected, method):
    got = extract_choice(text, CHOICES)
    assert (got.value, got.method) == (expected, method)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes, it is.", "yes"),
        ("No. Kayaks need water.", "no"),
        ("The answer is no, because yes-men agree.", "no"),
        ("That statement is true.", "yes"),
        ("False.", "no"),
        ("It depends on the knowledge.", None),  # "know" inside a word is not "no"
        ("Nothing is certain", None),
    ],
)
def test_extract_yes_no(text, expected):
    assert extract_yes_no(text).value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She makes 9 * 2 = $18 every day.\n#### 18", "18"),
        ("16 - 3 - 4 = 9 eggs, so 9 * 2 = 18 dollars.", "18"),
        ("The answer is $1,200.", "1200"),
        ("Answer: 3.50 dollars, from 7 halves", "3.5"),
        ("So the answer is 85000.", "85000"),
        ("The total is 12.0", "12"),
        ("-4 degrees", "-4"),
        ("I cannot tell.", None),
    ],
)
def test_extract_number(text, expected):
    assert extract_number(text).value == expected


def test_scoring_on_items():
    arc = TaskItem("arc-easy", "x", "Which was developed most recently?", "choice", 0, CHOICES)
    assert is_correct(arc, "A. cellular telephone")
    assert not is_correct(arc, "Answer: B")
    assert not is_correct(arc, "I do not know")
    gsm = TaskItem("gsm8k", "y", "How much?", "number", "18")
    assert is_correct(gsm, "She earns $18.00 a day.")
    assert not is_correct(gsm, "She earns 16 dollars.")
    yn = TaskItem("boolq", "z", "Is it?", "yesno", "no")
    assert is_correct(yn, "No, it is not.") and not is_correct(yn, "Yes.")
    assert extract(yn, "no").method == "word"
