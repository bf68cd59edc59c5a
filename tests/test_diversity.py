"""Pool diversity descriptors and the diversity table of an experiment summary."""

from __future__ import annotations

import pytest
from conftest import make_persona

from agora.experiment.diversity import model_family, pool_diversity, value_distance, value_diversity
from agora.experiment.metrics import diversity_table


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("smollm2-135m-instruct", "smollm2"),
        ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder"),
        ("qwen2.5-coder-1.5b-instruct", "qwen2.5-coder"),
        ("gemma3-270m", "gemma3"),
        ("models/my-model", "models/my-model"),
        ("llama@http://127.0.0.1:8000/v1", "llama@http://127.0.0.1:8000/v1"),
    ],
)
def test_model_family(model, family):
    assert model_family(model) == family


def test_value_distance_and_diversity():
    a, b, c = {"x": 1.0}, {"y": 1.0}, {"x": 0.5, "y": 0.5}
    assert value_distance(a, a) == 0 and value_distance(a, b) == 1 and value_distance(a, c) == 0.5
    assert value_diversity([a, b, c]) == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert value_diversity([a]) == 0


def test_pool_diversity_counts_models_families_and_values():
    same = [make_persona(n, values={"fairness": 1.0}, model="smollm2-135m-instruct") for n in "abc"]
    assert pool_diversity(same) == {"size": 3, "models": 1, "families": 1, "value_diversity": 0.0}
    mixed = [
        make_persona("a", values={"fairness": 1.0}, model="smollm2-135m-instruct"),
        make_persona("b", values={"liberty": 1.0}, model="qwen2.5-coder-0.5b-instruct"),
        make_persona("c", values={"liberty": 1.0}, model="qwen2.5-coder-1.5b-instruct"),
    ]
    assert pool_diversity(mixed) == {
        "size": 3,
        "models": 3,
        "families": 2,
        "value_diversity": pytest.approx(2 / 3, abs=1e-4),
    }


def test_diversity_table_puts_descriptors_beside_accuracy():
    rows = [
        {"protocol": "vote", "pool": "same", "correct": True, "status": "completed"},
        {"protocol": "vote", "pool": "same", "correct": False, "status": "completed"},
        {"protocol": "vote", "pool": "mixed", "correct": True, "status": "completed"},
    ]
    pools = {
        "same": {"size": 3, "families": 1, "value_diversity": 0.0},
        "mixed": {"size": 3, "families": 2, "value_diversity": 0.5},
    }
    table = diversity_table(rows, pools).splitlines()
    assert table[2].startswith("| vote | same | 3 | 1 | 0.00 | 2 | 50.0 |")
    assert table[3].startswith("| vote | mixed | 3 | 2 | 0.50 | 1 | 100.0 |")
