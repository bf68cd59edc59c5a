"""Experiments: sweep protocols x graphs x persona pools x seeds over task sets, one result row per item.

    agora experiment examples/participation_mini.yaml

See :mod:`agora.experiment.spec` for the spec, :mod:`agora.experiment.metrics` for the measures,
:mod:`agora.experiment.checks` for the summary's contrasts, baselines and chance levels, :mod:`agora.experiment.stats`
for the paired statistics (also ``agora stats FILE``) and ``docs/experiments.md`` for the results files.
"""

from __future__ import annotations

from agora.experiment.configs import Configuration, configurations
from agora.experiment.metrics import Summary, majority, summarise, summary_table, wilson
from agora.experiment.results import COLUMNS, read_rows, score_transcript
from agora.experiment.runner import Sweep, SweepProgress, SweepReport, run_experiment
from agora.experiment.spec import ExperimentSpec, load_spec

__all__ = [
    "COLUMNS",
    "Configuration",
    "ExperimentSpec",
    "Summary",
    "Sweep",
    "SweepProgress",
    "SweepReport",
    "configurations",
    "load_spec",
    "majority",
    "read_rows",
    "run_experiment",
    "score_transcript",
    "summarise",
    "summary_table",
    "wilson",
]
