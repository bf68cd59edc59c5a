"""Experiments: sweep protocols x graphs x persona pools x seeds over task sets, one result row per item.

    agora experiment examples/participation_mini.yaml

See :mod:`agora.experiment.spec` for the spec, :mod:`agora.experiment.metrics` for the measures and
``docs/experiments.md`` for the results files.
"""

from __future__ import annotations

from .metrics import Summary, majority, summarise, summary_table, wilson
from .runner import COLUMNS, Configuration, Sweep, SweepReport, configurations, read_rows, run_experiment
from .spec import ExperimentSpec, load_spec

__all__ = [
    "COLUMNS",
    "Configuration",
    "ExperimentSpec",
    "Summary",
    "Sweep",
    "SweepReport",
    "configurations",
    "load_spec",
    "majority",
    "read_rows",
    "run_experiment",
    "summarise",
    "summary_table",
    "wilson",
]
