"""The engine comparison: one simulated stream, every engine, one table and one figure.

Each engine gets the same setting (gap, lateness, the semantics' flags) and the same run
directory, and is scored against the same truth: CTR error, pairwise F1, splits, merges,
late (or dropped) events and duplicates. Speed is measured as it runs: its start-up (the
engine on no events: a JVM, a first job) and its rate on the stream once started, events
per wall second of the run less the start-up.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec
import orjson

from sessionizer import ColumnOutputs
from sessionsim.extras import installed, need
from sessionsim.pipeline import check_run_dir
from sessionsim.scenario import RunScenario, SessionizerSpec
from sessionsim.scoring.truth import load_truth
from simulator import OutputSet, format_duration, simulate_to_dir

__all__ = ["CompareRow", "plot_compare", "run_compare"]


class CompareRow(msgspec.Struct, kw_only=True, frozen=True):
    """One engine on the compared stream."""

    engine: str
    ctr_error: float | None
    pairwise_f1: float
    sessions_found: int
    splits: int
    merges: int
    late_events: int | None
    duplicates: int | None
    events: int
    wall_s: float  # the whole check: read, sessionize, score
    startup_s: float  # the engine on no events
    events_per_s: float  # events / (wall - startup)


COLUMNS = list(CompareRow.__struct_fields__)


def _startup_s(spec: SessionizerSpec) -> float:
    """Wall seconds of the engine on an empty stream."""
    began = time.perf_counter()
    sessionizer = spec.build()
    for _ in ColumnOutputs.of(sessionizer, iter([])):
        pass
    return time.perf_counter() - began


def run_compare(
    scenario: RunScenario,
    out: Path,
    specs: Sequence[SessionizerSpec],
    progress: Callable | None = None,
    on_engine: Callable[[CompareRow], None] | None = None,
) -> list[CompareRow]:
    """Simulate into ``out`` once, then check each setting of ``specs`` (an engine each);
    write ``compare.csv``, ``compare.json`` and (with matplotlib) ``compare.png``."""
    for spec in specs:  # a bad name, option or missing engine fails before simulating
        spec.build()
    summary = simulate_to_dir(scenario, out, progress)
    truth = load_truth(out)
    rows = []
    for spec in specs:
        startup = _startup_s(spec)
        began = time.perf_counter()
        with OutputSet(out) as outputs:
            report = check_run_dir(
                out, spec, outputs=outputs, suffix=f".{spec.sessionizer}", truth=truth
            )
        wall = time.perf_counter() - began
        row = CompareRow(
            engine=spec.sessionizer,
            ctr_error=report.ctr_error,
            pairwise_f1=report.pairwise_f1,
            sessions_found=report.sessions_found,
            splits=report.splits,
            merges=report.merges,
            late_events=report.late_events,
            duplicates=report.duplicates,
            events=summary.events,
            wall_s=round(wall, 3),
            startup_s=round(startup, 3),
            events_per_s=round(summary.events / max(wall - startup, 1e-3), 1),
        )
        rows.append(row)
        if on_engine is not None:
            on_engine(row)
    base = specs[0]
    title = (
        f"{scenario.population.users:,} users, seed {scenario.seed}, "
        f"{format_duration(scenario.duration)}; gap {format_duration(base.gap)}, "
        f"lateness {format_duration(base.lateness)}"
    )
    with OutputSet(out) as outputs:
        table = io.StringIO()
        writer = csv.DictWriter(table, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(msgspec.structs.asdict(r) for r in rows)
        outputs.open("compare.csv").write(table.getvalue().encode())
        outputs.open("compare.json").write(
            orjson.dumps(
                msgspec.to_builtins({"about": title, "rows": rows}), option=orjson.OPT_INDENT_2
            )
            + b"\n"
        )
        if installed("matplotlib"):
            outputs.open("compare.png").write(plot_compare(rows, title))
    return rows


def plot_compare(rows: Sequence[CompareRow], title: str, fmt: str = "png") -> bytes:
    """The figure: per engine, CTR error, pairwise F1, splits and merges, late or dropped
    events, and speed (events/s once started, and start-up)."""
    matplotlib = need("matplotlib", "plot", "the comparison figure")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.engine for r in rows]
    colours = [f"C{k}" for k in range(len(rows))]
    fig, axes = plt.subplots(2, 3, figsize=(16, 8), constrained_layout=True)
    panels = [
        ("CTR error, measured - true (pp)", [100 * (r.ctr_error or 0.0) for r in rows]),
        ("pairwise F1", [r.pairwise_f1 for r in rows]),
        ("late or dropped events", [r.late_events or 0 for r in rows]),
        ("events per second, once started", [r.events_per_s for r in rows]),
        ("start-up (s): the engine on no events", [r.startup_s for r in rows]),
    ]
    for ax, (label, values) in zip(axes.flat, panels):
        ax.bar(names, values, color=colours)
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30)
        if label.startswith("CTR"):
            ax.axhline(0.0, color="black", linewidth=0.8)
        if label.startswith("events per"):
            ax.set_yscale("log")
    ax = axes.flat[5]
    x = range(len(rows))
    ax.bar([k - 0.2 for k in x], [r.splits for r in rows], 0.4, label="splits (visits cut)")
    ax.bar([k + 0.2 for k in x], [r.merges for r in rows], 0.4, label="merges (visits joined)")
    ax.set_xticks(list(x), names, rotation=30)
    ax.set_title("splits and merges")
    ax.legend(fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"sessionsim compare: {title}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=90)
    plt.close(fig)
    return buf.getvalue()
