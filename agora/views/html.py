"""The HTML report: one self-contained file (styles inline, plots as embedded PNG) for a transcript or an experiment
directory, and the HTML fragments notebooks show for outcomes and transcripts (``_repr_html_``).

The report of one transcript shows the consensus curve, the agreement heatmap, the persuasion graph, who held which
position at each stage, per-agent flip rates and persona fidelity, the tallies under each rule, dissent and value
conflicts, and the messages. For a directory it shows the same aggregated over the debates, the experiment's
accuracy table when a results file has one, and each debate below.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from agora._version import __version__
from agora.analysis.load import Collection, load
from agora.analysis.plots import agreement_heatmap, consensus_plot, persuasion_plot, position_colour
from agora.analysis.summary import DebateSummary, ExperimentSummary, accuracy_tables, aggregate, summarise
from agora.errors import AgoraError
from agora.transcript import HTML_VIEWS, OutcomeEvent, Transcript
from agora.views.terminal import robustness_text


def values_text(values: Mapping[str, float]) -> str:
    """Stated values as "sustainability 60%, public_health 25%, ..." (weights normalised, largest first)."""
    total = sum(values.values()) or 1.0
    return ", ".join(
        f"{k} {v / total:.0%}" for k, v in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    )


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("agora.views", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=False,
    )
    env.globals.update(colour=position_colour, values_text=values_text, robustness_text=robustness_text)
    return env


_ENV: Environment | None = None


def environment() -> Environment:
    """The report's Jinja2 environment (autoescaping: every contributed text is shown as text, never as markup)."""
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def _debate_plots(s: DebateSummary) -> dict[str, str]:
    pos = s.positions
    return {
        "consensus": consensus_plot(pos.labels, s.consensus, s.entropy, s.polarisation),
        "agreement": agreement_heatmap(list(pos.agents), s.agreement),
        "persuasion": persuasion_plot(list(pos.agents), s.transcript.header.graph, s.persuasion, pos.final),
    }


def _experiment_plots(e: ExperimentSummary) -> dict[str, str]:
    agents = list(e.agreement)
    return {
        "consensus": consensus_plot(
            e.stage_labels, e.consensus, e.entropy, e.polarisation, each=[d.consensus for d in e.debates]
        ),
        "agreement": agreement_heatmap(agents, e.agreement),
        "persuasion": persuasion_plot(agents, e.interaction, e.persuasion),
    }


def render_report(collection: Collection) -> str:
    """The report's HTML for what :func:`agora.analysis.load` returned."""
    debates = [summarise(t) for t in collection.transcripts]
    context: dict[str, Any] = {
        "version": __version__,
        "source": collection.root.name,
        "debates": debates,
        "unreadable": {str(p.relative_to(collection.root)): why for p, why in collection.unreadable.items()},
        "accuracy": [
            {**table, "source": str(Path(table["source"]).relative_to(collection.root))}
            for table in accuracy_tables(collection.results)
        ],
    }
    if collection.is_directory:
        experiment = aggregate(debates)
        statuses = Counter(d.transcript.status for d in debates)
        context.update(
            experiment=experiment,
            plots=_experiment_plots(experiment),
            statuses=", ".join(f"{n} {s}" for s, n in statuses.most_common()),
            title=collection.root.name,
            subtitle=f"experiment directory {collection.root.name}: {len(debates)} debates",
        )
    else:
        s = debates[0]
        context.update(
            experiment=None,
            plots=_debate_plots(s),
            title=s.transcript.header.question[:80],
            subtitle=f"transcript {s.name}",
        )
    return environment().get_template("report.html.j2").render(**context)


def write_report(source: str | Path, out: str | Path) -> Path:
    """Write the report of a transcript file or experiment directory to ``out`` (atomically: nothing is written
    when the source cannot be read)."""
    out = Path(out)
    if out.is_dir():
        raise AgoraError("names a directory; give a file name such as report.html", source=out, field="--out")
    html = render_report(load(source))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, out)
    return out


# -- notebook display ------------------------------------------------------------------------------------------
def outcome_html(outcome: OutcomeEvent | None) -> str:
    """An outcome as an HTML fragment with inline styles (winner, answer, tallies, dissent, value conflict)."""
    template = environment().from_string('{% from "_outcome.html.j2" import outcome %}{{ outcome(o) }}')
    return template.render(o=outcome)


_TRANSCRIPT_FRAGMENT = """\
{% from "_outcome.html.j2" import outcome %}
<div style="font-family: system-ui, sans-serif; font-size: 14px; line-height: 1.45;">
<p><b>agora transcript</b> · protocol <code>{{ h.protocol }}</code> · seed {{ h.seed }} · {{ status }}
{%- if t.truncated %} (last line cut off){% endif %}</p>
<p><b>Question:</b> {{ h.question }}</p>
<table style="border-collapse: collapse; margin-bottom: 0.6em;">
<tr><th style="text-align: left; padding: 2px 8px;">agent</th>
{%- for label in s.positions.labels %}<th style="padding: 2px 8px;">{{ label }}</th>{% endfor %}</tr>
{%- for a in s.positions.agents %}<tr><td style="padding: 2px 8px;">{{ a }}</td>
{%- for held in s.positions.table %}<td style="padding: 2px 8px; text-align: center; color: #fff; background: {{ colour(held.get(a)) }};"
 title="{{ s.positions.answers.get(held.get(a), '') }}">{{ held.get(a, "–") }}</td>{% endfor %}</tr>{% endfor %}
</table>
<p>Largest camp by stage: {{ s.consensus|map("round", 2)|join(" → ") }} · consensus round: {{ s.consensus_round if s.consensus_round is not none else "none" }}
 · {{ t.messages|length }} messages, {{ s.failed_turns }} failed turns or ballots</p>
{{ outcome(t.outcome) }}
</div>"""


def transcript_html(transcript: Transcript) -> str:
    """A transcript as an HTML fragment: the question, who held which position at each stage, and the outcome."""
    s = summarise(transcript)
    template = environment().from_string(_TRANSCRIPT_FRAGMENT)
    return template.render(t=transcript, h=transcript.header, s=s, status=transcript.status)


HTML_VIEWS[Transcript] = transcript_html
HTML_VIEWS[OutcomeEvent] = outcome_html
