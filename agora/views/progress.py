"""Progress on stderr for the command line: live bars on a terminal, a few whole lines anywhere else.

On a terminal, each phase of a debate gets a bar (agents done of the phase's agents, elapsed time, an ETA and the
failures so far) that stays on screen as the phase's one-line summary when the phase closes, and an experiment
sweep gets one bar over its runs with each finished run logged above it. The bars are tqdm's.

Anywhere else (a pipe, a file, a CI log) nothing is ever redrawn: no bars, no carriage returns, nothing per turn.
Only lines worth keeping in a log are written, each whole: the loading notice, one line per finished phase, an
early stop and its reason, and a sweep's line per finished run with its ETA. ``--quiet`` passes no display at all.

The displays only read :class:`~agora.run.engine.Progress` and :class:`~agora.experiment.runner.SweepProgress`
notices; the engine and the runner do not know how (or whether) they are shown.
"""

from __future__ import annotations

import os
import shutil
from types import TracebackType
from typing import TYPE_CHECKING, TextIO, TypeVar

from tqdm import tqdm

from agora.views.terminal import printable

if TYPE_CHECKING:
    from agora.experiment.runner import SweepProgress
    from agora.run.engine import Progress

#: a phase while it runs, and once it is closed (``{tail}`` is filled in before tqdm formats the line); short enough
#: for 80 columns with the counts, the times and the ETA, which come before the failures
_PHASE_RUNNING = "{desc} {bar:16} {n_fmt}/{total_fmt} agents, {elapsed} elapsed, ETA {remaining}{postfix}"
_PHASE_DONE = "{desc} {bar:16} {tail}"
#: a sweep over its runs
_SWEEP_RUNNING = "{desc} {bar:16} {n_fmt}/{total_fmt} runs, {elapsed} elapsed, ETA {remaining}{postfix}"

_D = TypeVar("_D", bound="_Display")


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed or odd stream is not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def screen(stream: TextIO) -> dict[str, int]:
    """The terminal's width and height, as tqdm's ``ncols`` and ``nrows``. A terminal that reports no size (a bare
    pseudo-terminal says 0 by 0, and tqdm then draws nothing) counts as ``$COLUMNS`` by ``$LINES``, or 80 by 24."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        size = os.terminal_size((0, 0))
    fallback = shutil.get_terminal_size()
    return {"ncols": size.columns or fallback.columns, "nrows": size.lines or fallback.lines}


def _escaped(text: str) -> str:
    """``text`` as literal text inside a tqdm ``bar_format``."""
    return text.replace("{", "{{").replace("}", "}}")


def phase_label(p: Progress) -> str:
    """Which phase of which round: ``[round 1/2] critique ``, the phase name padded so that phases line up."""
    return f"[round {p.round}/{p.rounds}] {p.phase:<9}"


def phase_summary(p: Progress) -> str:
    """A closed phase: how many agents answered, in how long, and how many failed (a 'phase-done' notice)."""
    extra = f", {p.detail}" if p.detail else ""
    return f"{p.done}/{p.total} answered in {p.elapsed_s:.1f} s{extra}"


class _Display:
    """What both displays share: the stream, whether it is live, and closing the open bar (also on errors)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = is_terminal(stream)
        self._bar: tqdm | None = None

    def line(self, text: str) -> None:
        """A whole line; on a terminal, above the open bar (which is drawn again below it). Control characters in
        it (from a model's error text, say) are shown as escapes, never obeyed."""
        text = printable(text)
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """Close the open bar, leaving its last state on screen."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self: _D) -> _D:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class DebateProgress(_Display):
    """A debate's progress (``Debate(progress=...)``, ``resume(progress=...)``): a bar per phase on a terminal, one
    line per finished phase elsewhere. Use it as a context manager so that a bar left open by a failed or
    interrupted debate is closed before the error is printed."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._phase: tuple[int, str] | None = None
        self._failed = 0

    def __call__(self, p: Progress) -> None:
        if p.stage == "loading":
            self.line(f"loading model(s): {p.detail} ...")
        elif p.stage == "relevance":
            self.line(f"weighing votes by the relevance of {p.detail} ...")
        elif p.stage == "stop":
            self.close()
            self.line(f"stopped after round {p.round} of {p.rounds}: {p.detail}")
        elif p.stage == "outcome":
            self.close()
        elif p.stage in ("phase", "turn", "phase-done"):
            if self.live:
                self._live(p)
            elif p.stage == "phase-done":
                self.line(f"{phase_label(p)} {phase_summary(p)}")

    def _live(self, p: Progress) -> None:
        """Open, advance or close the phase's bar."""
        if self._bar is None or self._phase != (p.round, p.phase):
            self._open(p)
        bar = self._bar
        assert bar is not None
        if p.stage == "turn":
            if p.detail:  # the turn failed
                self._failed += 1
                bar.set_postfix_str(f"{self._failed} failed", refresh=False)
            bar.update(p.done - bar.n)
        elif p.stage == "phase-done":
            # the bar ends at the agents that answered: a short bar is a phase with failures
            bar.n = p.done
            bar.total = p.total
            bar.bar_format = _PHASE_DONE.replace("{tail}", _escaped(phase_summary(p)))
            self.close()

    def _open(self, p: Progress) -> None:
        self.close()
        self._phase = (p.round, p.phase)
        self._failed = 0
        self._bar = tqdm(
            total=p.total,
            desc=phase_label(p),
            bar_format=_PHASE_RUNNING,
            file=self.stream,
            **screen(self.stream),
            leave=True,
        )


class SweepDisplay(_Display):
    """An experiment sweep's progress: ``notice`` takes the runner's lines, ``__call__`` its
    :class:`~agora.experiment.runner.SweepProgress` notices. On a terminal the lines scroll above one bar over the
    runs; elsewhere the lines alone are written (each finished run's line carries its own ETA)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._failed = 0

    def notice(self, text: str) -> None:
        self.line(text)

    def __call__(self, p: SweepProgress) -> None:
        if not self.live:
            return
        if self._bar is None:
            if p.done >= p.total:  # nothing left to run: no bar
                return
            self._failed = 0
            self._bar = tqdm(
                total=p.total,
                initial=p.done,  # runs finished by an earlier sweep: not counted in the rate or the ETA
                desc=f"experiment {p.name}",
                bar_format=_SWEEP_RUNNING,
                file=self.stream,
                **screen(self.stream),
                leave=True,
            )
        bar = self._bar
        if p.mark == "FAILED":
            self._failed += 1
            bar.set_postfix_str(f"{self._failed} failed", refresh=False)
        bar.update(p.done - bar.n)
        if p.done >= p.total:
            self.close()
