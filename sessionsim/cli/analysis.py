"""`sessionsim sweep`, `compare`, `realism` and `bench`: analyses of runs and of the tool."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from sessionsim.cli.options import (
    FLAGS,
    _check_size,
    _duration,
    _durations,
    _json_flag,
    _overrides,
    _print_json,
    _spec,
    engine_option,
    scenario_options,
    setting_options,
)
from sessionsim.cli.render import format_compare, format_realism, format_sweep
from sessionsim.errors import SessionsimError
from sessionsim.extras import figure_format, installed
from sessionsim.progress import sim_progress
from sessionsim.scenario import RunScenario
from simulator import (
    OutputSet,
    load_scenario,
)


@click.command()
@scenario_options
@setting_options
@click.option(
    "--max-delay",
    default="1h",
    show_default=True,
    help="Recommend the best pairwise F1 whose p99 emission delay (stream time from a "
    "session's end to its output) is at most this.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for the run, sweep.csv, sweep.json and sweep.png.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=min(os.cpu_count() or 1, 4),
    show_default=True,
    help="Processes sessionizing settings in parallel.",
)
@_json_flag
def sweep(
    scenario: Path,
    seed: int | None,
    users: int | None,
    duration: str | None,
    start: str | None,
    force: bool,
    out: Path,
    workers: int,
    max_delay: str,
    as_json: bool,
    **options: Any,
) -> None:
    """Simulate SCENARIO once, then check every --gap (x every --lateness) on that stream.

    --gap and --lateness take comma-separated lists, e.g. --gap 1m,5m,30m,1h.
    """
    from sessionsim.analysis.sweep import recommendation, run_sweep

    gaps = _durations("--gap", options.pop("gap") or "1m,5m,10m,30m,1h,2h")
    latenesses = _durations("--lateness", options.pop("lateness") or "2m")
    if any(g <= 0 for g in gaps):
        raise SessionsimError("--gap: expected positive durations")
    max_delay_s = _duration("--max-delay", max_delay)
    watermarks = [
        _spec({"watermark": w.strip()}).watermark
        for w in (options.pop("watermark") or "global").split(",")
    ]
    # The reference emits each session the moment it is final: its delays are the semantics'
    # (a micro-batch engine adds its batching to them).
    base = _spec({**options, "sessionizer": options["sessionizer"] or "reference"})
    sc = load_scenario(
        scenario, _overrides(seed, users, duration, start), model=RunScenario, flags=FLAGS
    )
    _check_size(sc, scenario, force)
    settings = tqdm(
        total=len(gaps) * len(latenesses) * len(watermarks),
        desc="settings",
        unit="setting",
        file=sys.stderr,
        delay=1.0,
        leave=False,
        disable=None,  # no bar when stderr is not a terminal
    )
    with sim_progress(sc.duration) as progress, settings:
        rows = run_sweep(
            sc,
            out,
            gaps,
            latenesses,
            base,
            progress,
            on_setting=lambda _: settings.update(1),
            workers=workers,
            watermarks=watermarks,
            max_delay_s=max_delay_s,
        )
    click.echo(format_sweep(rows), err=as_json)
    click.echo(recommendation(rows, max_delay_s), err=as_json)
    if installed("matplotlib"):
        click.echo(f"written to {out}/sweep.csv, sweep.json, sweep.png", err=as_json)
    else:
        click.echo(
            f"written to {out}/sweep.csv, sweep.json "
            "(for sweep.png: pip install 'sessionsim[plot]')",
            err=as_json,
        )
    if as_json:
        _print_json(rows)


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "figure",
    type=click.Path(path_type=Path),
    help="Draw the one-page figure here (.png, .svg or .pdf: the suffix picks the format).",
)
@click.option(
    "--bands",
    type=click.Path(path_type=Path),
    help="A bands file of your own (default: the packaged bands.yaml).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the rows as JSON on stdout (a list of RealismRow; nothing else there).",
)
def realism(
    run_dir: Path,
    figure: Path | None,
    bands: Path | None,
    as_json: bool,
) -> None:
    """Show how realistic RUN_DIR's stream is: each metric against its published band."""
    import msgspec

    from sessionsim.realism import load_bands, measure_realism
    from sessionsim.realism.figure import plot_realism

    fmt = figure_format(figure, "--out") if figure is not None else None
    result = measure_realism(run_dir)
    rows = result.rows(load_bands(bands))
    if as_json:
        click.echo(msgspec.json.encode(rows).decode())
    else:
        click.echo(format_realism(rows))
    if figure is not None and fmt is not None:
        with OutputSet(figure.parent) as outputs:
            picture = plot_realism(result, f"realism of {run_dir}", fmt, rows)
            outputs.open(figure.name).write(picture)
        click.echo(f"figure written to {figure}", err=as_json)


@click.command()
@click.option("--quick", is_flag=True, help="A short run (under two minutes) for every change.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path),
    help="Draw them here (.png, .svg or .pdf).",
)
def bench(
    quick: bool,
    json_path: Path | None,
    plot_path: Path | None,
) -> None:
    """Measure throughput and memory of every stage: simulator and sessionizers."""
    from sessionsim.analysis.bench import run_bench

    if plot_path is not None:
        figure_format(plot_path, "--plot")  # a wrong suffix is refused before the run

    run_bench(quick, json_path, plot_path)


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "page",
    required=True,
    type=click.Path(path_type=Path),
    help="The HTML page to write (self-contained: no script, nothing fetched).",
)
def report(
    run_dir: Path,
    page: Path,
) -> None:
    """Write one page for RUN_DIR: the check, the realism table and figure, the sweep and
    the live run's delivery and latency (each when the run has it)."""
    from sessionsim.analysis.report_page import report_page

    body = report_page(run_dir)
    with OutputSet(page.parent) as outputs:
        outputs.open(page.name).write(body)
    click.echo(f"page written to {page}")


ENGINES_DEFAULT = "reference,bytewax,duckdb,flink,spark"


@click.command()
@scenario_options
@setting_options
@engine_option
@click.option(
    "--engines",
    default=ENGINES_DEFAULT,
    show_default=True,
    help="Comma-separated engines, each scored on the same stream with the same setting.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for the run, each engine's sessions, compare.csv, .json and .png.",
)
@_json_flag
def compare(
    scenario: Path,
    seed: int | None,
    users: int | None,
    duration: str | None,
    start: str | None,
    force: bool,
    engines: str,
    out: Path,
    as_json: bool,
    **options: Any,
) -> None:
    """Simulate SCENARIO once and check every engine of --engines on that stream: one table
    (CTR error, pairwise F1, splits, merges, late or dropped events, events/s, start-up)
    and one figure."""
    from sessionsim.analysis.compare import run_compare

    if options.get("sessionizer") is not None:
        raise SessionsimError("--sessionizer: compare takes --engines (a list)")
    names = [e.strip() for e in engines.split(",") if e.strip()]
    if not names or len(set(names)) != len(names):
        raise SessionsimError(f"--engines: expected distinct names (got {engines!r})")
    specs = [_spec({**options, "sessionizer": name}) for name in names]
    sc = load_scenario(
        scenario, _overrides(seed, users, duration, start), model=RunScenario, flags=FLAGS
    )
    _check_size(sc, scenario, force)
    bar = tqdm(
        total=len(specs), desc="engines", unit="engine", file=sys.stderr, leave=False,
        disable=None,
    )  # fmt: skip
    with sim_progress(sc.duration) as progress, bar:
        rows = run_compare(sc, out, specs, progress, on_engine=lambda _: bar.update(1))
    click.echo(format_compare(rows), err=as_json)
    figure = (
        "compare.png"
        if installed("matplotlib")
        else "(compare.png: pip install 'sessionsim[plot]')"
    )
    click.echo(f"written to {out}/compare.csv, compare.json, {figure}", err=as_json)
    if as_json:
        _print_json(rows)
