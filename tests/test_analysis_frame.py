"""How the analysis table names debates: unique across directories, and as the experiment's results table does."""

from __future__ import annotations

import pytest
from analysis_helpers import debate_transcript

from agora.analysis import load, rows, to_dataframe
from agora.analysis.frame import debate_ids
from agora.transcript import Transcript

CONFIGS = ["debate-a", "debate-b", "vote-a", "vote-b"]
ITEMS = ["gsm8k-1.jsonl", "gsm8k-2.jsonl", "gsm8k-3.jsonl"]


@pytest.fixture
def experiment(tmp_path):
    """An experiment directory as a sweep writes it: one transcript per configuration and item, the same file names
    in every configuration's directory, and a results table naming each transcript."""
    out = tmp_path / "experiments" / "run-1"
    lines = []
    for config in CONFIGS:
        for item in ITEMS:
            debate_transcript().save(out / "transcripts" / config / item)
            lines.append(f'{{"config": "{config}", "transcript": "transcripts/{config}/{item}"}}')
    (out / "results.jsonl").write_text("\n".join(lines) + "\n")
    return out


def test_debates_in_different_directories_get_different_names(experiment):
    collection = load(experiment)
    assert len(collection.transcripts) == len(CONFIGS) * len(ITEMS)
    names = {r["debate"] for r in rows(collection)}
    assert len(names) == len(CONFIGS) * len(ITEMS)
    # the results table names the same debates the same way: the two tables join on it
    assert names == {row["transcript"] for row in collection.results[0].rows}
    # transcripts alone: relative to the deepest directory holding them all
    assert {r["debate"] for r in rows(collection.transcripts)} == {f"{c}/{i}" for c in CONFIGS for i in ITEMS}
    # an explicit root
    assert debate_ids(collection.transcripts[:1], root=experiment.parent) == [
        "run-1/transcripts/debate-a/gsm8k-1.jsonl"
    ]


def test_names_are_stable_whatever_else_is_loaded(experiment):
    collection = load(experiment)
    everything = {r["debate"] for r in rows(collection)}
    one_config = load(experiment / "transcripts" / "vote-a")
    assert {r["debate"] for r in rows(one_config.transcripts, root=experiment)} <= everything
    # a single transcript is named by its file name, as before
    assert debate_ids([collection.transcripts[0]]) == ["gsm8k-1.jsonl"]
    assert {r["debate"] for r in rows(collection.transcripts[0])} == {"gsm8k-1.jsonl"}


def test_a_transcript_never_saved_is_named_by_its_index(tmp_path):
    saved = Transcript.load(debate_transcript().save(tmp_path / "a" / "x.jsonl"))
    assert debate_ids([debate_transcript(), saved]) == ["0", "x.jsonl"]


def test_dataframe_of_a_collection(experiment):
    pd = pytest.importorskip("pandas")
    collection = load(experiment)
    frame = to_dataframe(collection)
    assert frame["debate"].nunique() == len(CONFIGS) * len(ITEMS)
    results = pd.DataFrame(collection.results[0].rows)
    joined = frame.merge(results, left_on="debate", right_on="transcript", how="left")
    assert joined["config"].notna().all()
