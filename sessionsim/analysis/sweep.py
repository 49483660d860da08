"""The timeout sweep: one simulated stream, sessionized at each gap and lateness."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import msgspec
import orjson

from sessionsim.extras import installed, need
from sessionsim.pipeline import check_run_dir
from sessionsim.scenario import RunScenario, SessionizerSpec
from sessionsim.scoring.latency import Latency
from sessionsim.scoring.report import Report
from sessionsim.scoring.truth import load_truth
from simulator import OutputSet, die_with_parent, format_duration, simulate_to_dir

__all__ = ["SweepRow", "best", "plot_sweep", "recommendation", "run_sweep"]


class SweepRow(msgspec.Struct, kw_only=True):
    """One setting of a sweep: its gap, lateness and watermark mode, how well it scored,
    and how long its sessions waited (``sweep.csv``'s columns, in order)."""

    gap: str
    lateness: str
    watermark: str
    gap_s: float
    lateness_s: float
    ctr_true: float | None
    ctr_observable: float | None
    ctr_measured: float | None
    ctr_error: float | None
    ctr_abs_error: float | None
    ctr_error_sessionizer: float | None
    ctr_error_data: float | None
    sessions_true: int
    sessions_found: int
    sessions_exact: int
    splits: int
    merges: int
    split_rate: float  # true visits cut, over the true visits
    merge_rate: float  # sessions joining visits, over the sessions found
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    late_events: int | None
    duplicates: int | None
    emission_delay_p50_s: float  # stream time from a session's last event to its emission
    emission_delay_p99_s: float
    peak_events_held: int
    pareto: bool = False  # no other setting beats it on both F1 and p99 emission delay


COLUMNS = list(SweepRow.__struct_fields__)


def _row(report: Report, spec: SessionizerSpec, latency: dict) -> SweepRow:
    r = report
    return SweepRow(
        gap=r.gap or format_duration(spec.gap),
        lateness=r.lateness or format_duration(spec.lateness),
        watermark=r.watermark or spec.watermark,
        gap_s=spec.gap,
        lateness_s=spec.lateness,
        ctr_true=r.ctr_true,
        ctr_observable=r.ctr_observable,
        ctr_measured=r.ctr_measured,
        ctr_error=r.ctr_error,
        ctr_abs_error=r.ctr_abs_error,
        ctr_error_sessionizer=r.ctr_error_sessionizer,
        ctr_error_data=r.ctr_error_data,
        sessions_true=r.sessions_true,
        sessions_found=r.sessions_found,
        sessions_exact=r.sessions_exact,
        splits=r.splits,
        merges=r.merges,
        split_rate=r.splits / r.sessions_true if r.sessions_true else 0.0,
        merge_rate=r.merges / r.sessions_found if r.sessions_found else 0.0,
        pairwise_precision=r.pairwise_precision,
        pairwise_recall=r.pairwise_recall,
        pairwise_f1=r.pairwise_f1,
        late_events=r.late_events,
        duplicates=r.duplicates,
        **latency,
    )


DEFAULT_MAX_DELAY_S = 3600.0  # a session out within an hour of its end, at the 99th pct


def best(rows: list[SweepRow], max_delay_s: float = DEFAULT_MAX_DELAY_S) -> SweepRow:
    """The most accurate setting (highest pairwise F1, then least CTR error) among those
    whose p99 emission delay is at most ``max_delay_s``; among all when none is."""
    within = [r for r in rows if r.emission_delay_p99_s <= max_delay_s] or rows
    return max(within, key=lambda r: (r.pairwise_f1, -(r.ctr_abs_error or 0.0)))


def mark_pareto(rows: list[SweepRow]) -> None:
    """Set ``pareto`` on the settings no other beats on both F1 and p99 emission delay."""
    for r in rows:
        r.pareto = not any(
            o.pairwise_f1 >= r.pairwise_f1
            and o.emission_delay_p99_s <= r.emission_delay_p99_s
            and (o.pairwise_f1 > r.pairwise_f1 or o.emission_delay_p99_s < r.emission_delay_p99_s)
            for o in rows
        )


def recommendation(rows: list[SweepRow], max_delay_s: float = DEFAULT_MAX_DELAY_S) -> str:
    """One line: the setting that scores best within ``max_delay_s`` of emission delay."""
    b = best(rows, max_delay_s)
    err = "n/a" if b.ctr_error is None else f"{100 * b.ctr_error:+.3f} pp"
    met = b.emission_delay_p99_s <= max_delay_s
    objective = (
        f"best pairwise F1 with p99 emission delay <= {format_duration(max_delay_s)}"
        if met
        else f"no setting has p99 emission delay <= {format_duration(max_delay_s)}: best F1"
    )
    return (
        f"recommended ({objective}): gap {b.gap}, lateness {b.lateness}"
        + ("" if b.watermark == "global" else f", watermark {b.watermark}")
        + f" (pairwise F1 {b.pairwise_f1:.4f}, splits {b.split_rate:.1%}, "
        f"merges {b.merge_rate:.1%}, CTR error {err}, "
        f"p99 emission delay {format_duration(round(b.emission_delay_p99_s))})"
    )


class _Settings:
    """Sessionizes the run in ``out`` at one (gap, lateness); shared by worker processes."""

    def __init__(self, out: Path, base: SessionizerSpec) -> None:
        base.build()  # a bad name or option fails before the simulation
        self.out, self.base = out, base

    def load(self) -> None:
        self.truth = load_truth(self.out)

    def row(self, setting: tuple[float, float, str]) -> SweepRow:
        gap, lateness, watermark = setting
        label = f"gap {format_duration(gap)}, lateness {format_duration(lateness)}, {watermark}"
        spec = self.base.model_copy(
            update={"gap": gap, "lateness": lateness, "watermark": watermark, "label": label}
        )
        latency = Latency()
        report = check_run_dir(self.out, spec, truth=self.truth, latency=latency)
        return _row(report, spec, latency.summary())


_WORKER: _Settings | None = None  # set in the parent just before the pool forks workers


def _worker_row(setting: tuple[float, float, str]) -> SweepRow:
    assert _WORKER is not None, "set before the pool forks"
    return _WORKER.row(setting)


def run_sweep(
    scenario: RunScenario,
    out: Path,
    gaps: list[float],
    latenesses: list[float],
    base: SessionizerSpec,
    progress: Callable | None = None,
    on_setting: Callable[[SweepRow], None] | None = None,
    workers: int = 1,
    watermarks: Sequence[str] | None = None,
    max_delay_s: float = DEFAULT_MAX_DELAY_S,
) -> list[SweepRow]:
    """Simulate into ``out`` once; sessionize its events at every (gap, lateness,
    watermark mode; default: the base setting's mode).

    With ``workers`` > 1, settings run in that many forked processes (each reads the truth
    once); rows come back in the same order either way.
    """
    global _WORKER
    settings = _Settings(out, base)
    simulate_to_dir(scenario, out, progress)
    settings.load()
    modes = watermarks or [base.watermark]
    grid = [(g, late, mode) for mode in modes for late in latenesses for g in gaps]
    rows = []
    if workers <= 1 or len(grid) == 1:
        results: Iterable[SweepRow] = map(settings.row, grid)
        pool = None
    else:
        _WORKER = settings
        pool = ProcessPoolExecutor(
            min(workers, len(grid)),
            mp_context=get_context("fork"),
            initializer=die_with_parent,  # a killed sweep leaves no idle workers behind
            initargs=(os.getpid(),),
        )
        results = pool.map(_worker_row, grid)
    try:
        for row in results:
            rows.append(row)
            if on_setting is not None:
                on_setting(row)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
            _WORKER = None
    mark_pareto(rows)
    title = (
        f"{scenario.population.users:,} users, seed {scenario.seed}, "
        f"{format_duration(scenario.duration)} simulated"
    )
    with OutputSet(out) as outputs:
        table = io.StringIO()
        writer = csv.DictWriter(table, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(msgspec.structs.asdict(r) for r in rows)
        outputs.open("sweep.csv").write(table.getvalue().encode())
        outputs.open("sweep.json").write(
            orjson.dumps(
                msgspec.to_builtins(
                    {
                        "rows": rows,
                        "max_delay_s": max_delay_s,
                        "best": best(rows, max_delay_s),
                        "recommendation": recommendation(rows, max_delay_s),
                    }
                ),
                option=orjson.OPT_INDENT_2,
            )
        )
        if installed("matplotlib"):  # else the CLI says how to get the figure
            outputs.open("sweep.png").write(plot_sweep(rows, title, max_delay_s))
    return rows


def plot_sweep(
    rows: list[SweepRow], title: str, max_delay_s: float = DEFAULT_MAX_DELAY_S, fmt: str = "png"
) -> bytes:
    """Return a PNG: against gap, a line per (watermark, lateness): CTR error, split and
    merge rates, pairwise F1 and p99 emission delay; and F1 against delay with the Pareto
    front. The recommended setting is starred; one legend for all."""
    matplotlib = need("matplotlib", "plot", "the sweep figure")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 9), constrained_layout=True)
    panels = [
        ("ctr_error", "CTR error, measured - true (pp)", 100.0),
        ("split_rate", "split rate: true visits cut (%)", 100.0),
        ("merge_rate", "merge rate: sessions joining visits (%)", 100.0),
        ("pairwise_f1", "pairwise F1", 1.0),
        ("emission_delay_p99_s", "p99 emission delay (minutes of stream time)", 1 / 60),
    ]
    b = best(rows, max_delay_s)
    series = sorted({(r.watermark, r.lateness_s) for r in rows})
    gaps = sorted({r.gap_s for r in rows})
    for ax, (key, label, scale) in zip(axes.flat, panels):
        for k, (mode, lateness) in enumerate(series):
            line = sorted(
                (r for r in rows if (r.watermark, r.lateness_s) == (mode, lateness)),
                key=lambda r: r.gap_s,
            )
            ax.plot(
                [r.gap_s for r in line],
                [(getattr(r, key) or 0.0) * scale for r in line],
                marker="os^Dv<>p"[k % 8],
                linestyle=["-", "--", ":", "-."][k % 4],
                alpha=0.85,
                label=f"lateness {format_duration(lateness)}"
                + ("" if mode == "global" else f", {mode}"),
            )
        ax.plot(
            [b.gap_s],
            [(getattr(b, key) or 0.0) * scale],
            marker="*",
            markersize=18,
            color="crimson",
            linestyle="none",
            label="recommended",
        )
        ax.set_xscale("log")
        ax.set_xticks(gaps, [format_duration(g) for g in gaps])
        ax.minorticks_off()
        ax.set_xlabel("session gap")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        if key == "ctr_error":
            ax.axhline(0.0, color="black", linewidth=0.8)
        if key == "emission_delay_p99_s":
            ax.axhline(max_delay_s / 60, color="crimson", linewidth=0.8, linestyle="--")
    ax = axes.flat[5]
    front = sorted((r for r in rows if r.pareto), key=lambda r: r.emission_delay_p99_s)
    ax.scatter(
        [r.emission_delay_p99_s / 60 for r in rows],
        [r.pairwise_f1 for r in rows],
        color="grey",
        alpha=0.6,
    )
    ax.plot(
        [r.emission_delay_p99_s / 60 for r in front],
        [r.pairwise_f1 for r in front],
        "o-",
        color="black",
        label="Pareto front",
    )
    ax.plot(
        [b.emission_delay_p99_s / 60],
        [b.pairwise_f1],
        marker="*",
        markersize=18,
        color="crimson",
        linestyle="none",
    )
    ax.axvline(max_delay_s / 60, color="crimson", linewidth=0.8, linestyle="--")
    ax.set(
        xlabel="p99 emission delay (minutes)",
        ylabel="pairwise F1",
        title="accuracy against delay (each setting)",
    )
    ax.grid(alpha=0.3)
    handles, labels = [], []
    for a in axes.flat:
        for h, lab in zip(*a.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), fontsize=9)
    fig.suptitle(f"{title}\n{recommendation(rows, max_delay_s)}", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=90)
    plt.close(fig)
    return buf.getvalue()
