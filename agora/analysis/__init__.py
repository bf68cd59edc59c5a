"""Studying disagreement in transcripts: loading, positions, metrics, summaries, and a table for pandas.

from agora.analysis import load, summarise

collection = load("transcripts/")            # a transcript file or an experiment directory
for transcript in collection.transcripts:
    s = summarise(transcript)
    print(s.consensus_round, s.consensus, s.flip_rate_by_agent)

Every metric is a pure function in :mod:`agora.analysis.metrics`, defined in its docstring and in
``docs/analysis.md``. Plots (:mod:`agora.analysis.plots`) need matplotlib, the DataFrame needs pandas; nothing else
here needs more than agora itself.
"""

from __future__ import annotations

from agora.analysis import metrics
from agora.analysis.frame import rows, to_dataframe
from agora.analysis.load import Collection, Results, load, load_transcript
from agora.analysis.positions import Positions, positions
from agora.analysis.summary import DebateSummary, ExperimentSummary, accuracy_table, aggregate, summarise

__all__ = [
    "Collection",
    "DebateSummary",
    "ExperimentSummary",
    "Positions",
    "Results",
    "accuracy_table",
    "aggregate",
    "load",
    "load_transcript",
    "metrics",
    "positions",
    "rows",
    "summarise",
    "to_dataframe",
]
