"""The Python face of sessionsim: scenarios, runs, checks and sweeps in a few lines.

import sessionsim

run = sessionsim.simulate(sessionsim.load_scenario("late_mobile", users=500))
report = sessionsim.check(run, sessionizer="reference", lateness="5m")
report.gate(max_ctr_error=0.01, min_pairwise_f1=0.7)
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
from pydantic import ValidationError

from sessionizer import Event, events_of
from sessionsim.analysis.sweep import SweepRow, run_sweep
from sessionsim.batches import event_batches
from sessionsim.bundled import scenario_path
from sessionsim.errors import GateFailed, SessionsimError
from sessionsim.pipeline import check_run_dir
from sessionsim.rundir import read_rows, run_file
from sessionsim.scenario import RunScenario, SessionizerSpec
from sessionsim.scoring.report import Report
from simulator import Summary, simulate_to_dir
from simulator import load_scenario as _load

__all__ = ["GateFailed", "Report", "Run", "check", "load_scenario", "simulate", "sweep"]

# Keyword shortcuts for the keys people change most; any other key as a__b (a.b).
_SHORT = {"users": "population.users"}


def load_scenario(path_or_name: str | Path, **overrides: Any) -> RunScenario:
    """Load a scenario file, or a bundled one by name (``"baseline"``), with overrides:
    ``users=500``, ``seed=3``, ``duration="6h"``, or any key as ``visit__return_prob=0.1``."""
    dotted = {_SHORT.get(k, k.replace("__", ".")): v for k, v in overrides.items()}
    return _load(scenario_path(path_or_name), dotted, model=RunScenario)


class Run:
    """A simulated run: its events (in arrival order) and its truth, in a directory.

    ``simulate`` writes it to a private temporary directory (removed with the object)
    unless given ``out``; ``write(dir)`` copies it where you want it.
    """

    def __init__(self, path: Path, keep: tempfile.TemporaryDirectory | None = None) -> None:
        self.path = Path(path)
        self._keep = keep  # the temporary directory lives as long as the run

    @property
    def summary(self) -> Summary:
        """The truth summary: true CTR, counts of events, searches, losses, ..."""
        return msgspec.json.decode(
            (self.path / "truth" / "summary.json").read_bytes(), type=Summary
        )

    def events(self) -> Iterator[Event]:
        """The delivered events as sessionizer records, in arrival order."""
        with event_batches(str(run_file(self.path, "events")), "") as batches:
            for batch in batches:
                yield from events_of(batch)

    def event_dicts(self) -> Iterator[dict]:
        """The delivered events as the JSON objects of ``events.jsonl``."""
        for _, row in read_rows(run_file(self.path, "events")):
            yield row

    def visits(self) -> Iterator[dict]:
        """The true visits (``truth/sessions``): event ids, start, end, searches, clicks."""
        for _, row in read_rows(run_file(self.path, "truth/sessions")):
            yield row

    def searches(self) -> Iterator[dict]:
        """The true searches (``truth/searches``)."""
        for _, row in read_rows(run_file(self.path, "truth/searches")):
            yield row

    def write(self, directory: str | Path) -> Path:
        """Copy the run's files to ``directory`` (created); return it."""
        target = Path(directory)
        shutil.copytree(self.path, target, dirs_exist_ok=True, ignore=_hidden)
        return target

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def _hidden(_directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith(".")]


def simulate(scenario: RunScenario | str | Path, out: str | Path | None = None) -> Run:
    """Simulate ``scenario`` (a loaded scenario, a file or a bundled name) into ``out`` or a
    temporary directory; return the run."""
    if not isinstance(scenario, RunScenario):
        scenario = load_scenario(scenario)
    keep = None
    if out is None:
        keep = tempfile.TemporaryDirectory(prefix="sessionsim-")
        out = Path(keep.name) / "run"
    simulate_to_dir(scenario, Path(out))
    return Run(Path(out), keep)


def _setting(data: dict) -> SessionizerSpec:
    """A sessionizer setting from keywords; a bad one is ``SessionsimError`` in one line
    (each field, what was expected, the value cut short), not pydantic's report."""
    try:
        return SessionizerSpec.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            where = ".".join(map(str, err["loc"])) or "(setting)"
            msg = str(err["msg"]).removeprefix("Value error, ")
            if "(got " not in msg:
                got = repr(err.get("input"))
                msg += f" (got {got if len(got) <= 60 else got[:57] + '...'})"
            problems.append(f"{where}: {msg}")
        raise SessionsimError("sessionizer setting: " + "; ".join(problems)) from None


def check(
    run: Run | str | Path,
    sessionizer: str | None = None,
    sessions: str | Path | None = None,
    **setting: Any,
) -> Report:
    """Score a sessionizer (a name or ``module:attr``, with setting keys such as
    ``gap="10m"``, ``lateness="5m"``, ``watermark="per_user"``), or a sessions file made
    elsewhere, against the run's truth."""
    path = run.path if isinstance(run, Run) else Path(run)
    spec = _setting({"sessionizer": sessionizer or "vectorized", **setting})
    sessions_file = None if sessions is None else Path(sessions)
    return check_run_dir(path, spec, sessions_file)


def sweep(
    scenario: RunScenario | str | Path,
    out: str | Path,
    gaps: list[str],
    latenesses: Sequence[str] = ("2m",),
    **setting: Any,
) -> list[SweepRow]:
    """Simulate once into ``out`` and check every gap x lateness (durations as text);
    return the rows of ``sweep.csv``."""
    from simulator import parse_duration

    if not isinstance(scenario, RunScenario):
        scenario = load_scenario(scenario)
    base = _setting({"sessionizer": "reference", **setting})
    return run_sweep(
        scenario,
        Path(out),
        [parse_duration(g) for g in gaps],
        [parse_duration(x) for x in latenesses],
        base,
    )
