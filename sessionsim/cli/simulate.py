"""`sessionsim run`, `simulate` (a scenario into files) and `stream` (live, to a sink)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import click

from sessionsim.cli.options import (
    FLAGS,
    MAX_PROCESSES,
    MAX_USERS,
    _apply_gates,
    _check_size,
    _duration_flag,
    _Finite,
    _gates,
    _json_flag,
    _overrides,
    _parsed_gates,
    _print_json,
    _processes,
    _realism_flag,
    _spec,
    scenario_options,
    sessionizer_options,
)
from sessionsim.cli.render import format_report, format_simulation
from sessionsim.errors import GATE_FAILED, LagExceeded, RunFailed, SessionsimError
from sessionsim.gates import Gate, check_keys, missed
from sessionsim.load_shape import bursts_of, target_at
from sessionsim.progress import sim_progress
from sessionsim.scenario import RunScenario
from simulator import (
    FORMATS,
    Burst,
    format_duration,
    load_scenario,
    simulate_sharded,
    simulate_to_dir,
)


@click.command()
@scenario_options
@sessionizer_options
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Also write events, truth, sessions and report.json here.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, MAX_PROCESSES),
    default=1,
    show_default=True,
    help="Simulate in up to this many shards (at most backend.replicas) and run engines "
    "that take processes (bytewax) as a cluster of this many; the report is the same.",
)
@_gates
@_realism_flag
@_json_flag
def run(
    scenario: Path,
    seed: int | None,
    users: int | None,
    duration: str | None,
    start: str | None,
    force: bool,
    out: Path | None,
    processes: int,
    max_ctr_error: float | None,
    min_pairwise_f1: float | None,
    gates: tuple[str, ...],
    realism: bool,
    as_json: bool,
    **spec: Any,
) -> None:
    """Simulate SCENARIO once, check each sessionizer setting from its files, print the report.

    Sessionizer flags replace the scenario's `sessionizers:` section.
    """
    from sessionsim.pipeline import run_scenario
    from sessionsim.scoring.report import Report

    overrides = _overrides(seed, users, duration, start)
    if any(v is not None for v in spec.values()):
        overrides["sessionizers"] = [_spec(spec).model_dump(mode="json")]
    sc = load_scenario(scenario, overrides, model=RunScenario, flags=FLAGS)
    thresholds = _parsed_gates(gates) + _parsed_gates(sc.gates, f"{scenario}: gates:")
    check_keys(thresholds, Report)
    _check_size(sc, scenario, force)
    reports = run_scenario(
        sc,
        out,
        lambda name: sim_progress(sc.duration, f"run {name}"),
        realism=realism,
        processes=processes,
    )
    for report in reports:
        click.echo(format_report(report), err=as_json)
        click.echo(err=as_json)
    if out is not None:
        click.echo(f"written to {out}", err=as_json)
    if as_json:
        _print_json(reports)
    _apply_gates(reports, max_ctr_error, min_pairwise_f1, thresholds)


_OUT_HELP = "Output directory (events.jsonl, truth/, scenario.yaml)."


@click.command()
@scenario_options
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help=_OUT_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="JSON lines, or Parquet with typed columns (times as UTC timestamps).",
)
@_processes
@click.option("--sink", hidden=True)  # moved to `stream`: a one-line pointer, not a traceback
def simulate(
    scenario: Path,
    seed: int | None,
    users: int | None,
    duration: str | None,
    start: str | None,
    force: bool,
    out: Path,
    fmt: str,
    processes: int,
    sink: str | None,
) -> None:
    """Simulate SCENARIO and write its events and ground truth to --out.

    To stream the events live to a pipeline instead, use `sessionsim stream`.
    """
    if sink is not None:
        raise SessionsimError("--sink: live runs are `sessionsim stream SCENARIO --sink URL`")
    if str(out) == "-":
        raise SessionsimError(
            "--out: expected a directory (for events on stdout: stream --sink stdout)"
        )
    sc = load_scenario(
        scenario, _overrides(seed, users, duration, start), model=RunScenario, flags=FLAGS
    )
    if sc.load:
        raise SessionsimError(
            f"{scenario}: load: a load shape is paced in wall time: "
            "`sessionsim stream --sink URL --realtime`"
        )
    _check_size(sc, scenario, force)
    with sim_progress(sc.duration) as progress:
        if processes > 1:
            summary = simulate_sharded(sc, out, processes, progress, fmt)
        else:
            summary = simulate_to_dir(sc, out, progress, fmt)
    click.echo(format_simulation(summary, str(out)))


@click.command()
@scenario_options
@click.option(
    "--sink",
    required=True,
    help="Where the events go: stdout, file:PATH, http://HOST:PORT/PATH or "
    "kafka://HOST:PORT/TOPIC.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for the truth of what the sink acknowledged (events.jsonl, truth/, "
    "scenario.yaml).",
)
@click.option("--key", type=click.Choice(["user_id"]), help="stdout: prefix lines with KEY\\t.")
@click.option("--realtime", is_flag=True, help="Pace the events at their arrival times.")
@click.option(
    "--speed",
    type=_Finite(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="--realtime: simulated seconds per wall second.",
)
@click.option(
    "--rate",
    type=_Finite(min=0, min_open=True),
    help="--realtime: scale the population to deliver this many events per wall second.",
)
@click.option("--stop-after", help="End the run after this wall-clock duration (e.g. 5m).")
@click.option("--stats-csv", type=click.Path(path_type=Path), help="Live stats, a row a second.")
@click.option("--http-batch", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--http-interval", default="1s", show_default=True, help="Oldest event's wait.")
@click.option("--inflight", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--retries", type=click.IntRange(min=0), default=5, show_default=True)
@click.option(
    "--sink-timeout",
    default="30s",
    show_default=True,
    help="A request or delivery report not answered in this time fails (longer than any "
    "latency the collector is allowed); also the flush at the end.",
)
@click.option(
    "--gate",
    "gates",
    multiple=True,
    help="KEY OP NUMBER over the run's summary (repeatable), e.g. "
    "'live.ack_latency_ms.p99_ms<250': exit 3 naming each gate missed.",
)
@click.option(
    "--max-lag",
    help="--realtime: end the run, exit 4, if it falls further behind schedule than this "
    "(e.g. 2s): the generator could not keep up.",
)
@click.option(
    "--dashboard",
    metavar="HOST:PORT",
    help="Serve the run's page at http://HOST:PORT/ while it goes, updated each second "
    "(port 0: any free port; the URL is printed on stderr).",
)
@click.option(
    "--min-acked",
    type=_Finite(0, 1),
    help="Exit 1 unless at least this share of the copies sent was acknowledged "
    "(default: exit 1 only when none was).",
)
@_json_flag
def stream(
    scenario: Path,
    seed: int | None,
    users: int | None,
    duration: str | None,
    start: str | None,
    force: bool,
    sink: str,
    out: Path,
    key: str | None,
    realtime: bool,
    speed: float,
    rate: float | None,
    stop_after: str | None,
    stats_csv: Path | None,
    http_batch: int,
    http_interval: str,
    inflight: int,
    retries: int,
    sink_timeout: str,
    gates: tuple[str, ...],
    max_lag: str | None,
    dashboard: str | None,
    min_acked: float | None,
    as_json: bool,
) -> None:
    """Stream SCENARIO's events live to --sink (paced with --realtime), and write to --out
    the truth of exactly what the sink acknowledged.
    """
    from sessionsim.live.dashboard import parse_dashboard
    from sessionsim.live.records import LiveSummary
    from sessionsim.live.run import users_for_rate

    if str(out) == "-":
        raise SessionsimError("--out: expected a directory (for events on stdout: --sink stdout)")
    if rate is not None and not realtime:
        raise SessionsimError("--rate: needs --realtime (a rate is per wall-clock second)")
    if as_json and sink == "stdout":
        raise SessionsimError("--json: conflicts with --sink stdout (stdout carries the events)")
    if max_lag is not None and not realtime:
        raise SessionsimError("--max-lag: needs --realtime (lag is behind a wall-clock schedule)")
    sc = load_scenario(
        scenario, _overrides(seed, users, duration, start), model=RunScenario, flags=FLAGS
    )
    thresholds = _parsed_gates(gates) + _parsed_gates(sc.gates, f"{scenario}: gates:")
    check_keys(thresholds, LiveSummary)
    target = None
    if sc.load:
        if not realtime:
            raise SessionsimError(f"{scenario}: load: needs --realtime (wall time)")
        if rate is not None:
            raise SessionsimError(f"--rate: conflicts with the load: section of {scenario}")
        target = functools.partial(target_at, sc.load)
        sc = _shaped(sc, speed)
    elif rate is not None:
        needed = users_for_rate(sc, rate, speed)
        if needed >= MAX_USERS:
            raise SessionsimError(
                f"--rate: {rate:g} events/s needs {needed:,} users, over the {MAX_USERS:,} a "
                "scenario holds"
            )
        population = sc.population.model_copy(update={"users": needed})
        sc = sc.model_copy(update={"population": population})
        target = functools.partial(_constant, rate)
    _check_size(sc, scenario, force)
    _simulate_live(
        sc,
        out,
        sink,
        speed=speed if realtime else None,
        stop_after_s=_duration_flag("--stop-after", stop_after),
        target=target,
        keyed=key is not None,
        stats_csv=stats_csv,
        batch=http_batch,
        interval_s=_duration_flag("--http-interval", http_interval),
        inflight=inflight,
        retries=retries,
        timeout_s=_duration_flag("--sink-timeout", sink_timeout),
        max_lag_s=_duration_flag("--max-lag", max_lag),
        dashboard=None if dashboard is None else parse_dashboard(dashboard),
        min_acked=min_acked,
        gates=thresholds,
        as_json=as_json,
    )


def _constant(rate: float, _wall_s: float) -> float:
    return rate


def _shaped(sc: RunScenario, speed: float) -> RunScenario:
    """The scenario with its load shape turned into a population and arrival bursts (the
    saved scenario then replays the same stream without a load: section)."""
    from sessionsim.live.run import users_for_rate

    users = users_for_rate(sc, sc.load[0].rate, speed)
    if users >= MAX_USERS:
        raise SessionsimError(
            f"load: needs {users:,} users, over the {MAX_USERS:,} a scenario holds"
        )
    try:
        shaped = bursts_of(sc.load, speed, sc.duration)
    except ValueError as e:
        raise SessionsimError(f"load: {e}") from None
    bursts = [*sc.arrivals.bursts, *(Burst.model_construct(**b) for b in shaped)]
    return sc.model_copy(
        update={
            "population": sc.population.model_copy(update={"users": users}),
            "arrivals": sc.arrivals.model_copy(update={"bursts": bursts}),
            "load": [],
        }
    )


def _simulate_live(
    sc: RunScenario,
    out: Path,
    sink: str,
    min_acked: float | None,
    gates: list[Gate],
    as_json: bool = False,
    **options: Any,
) -> None:
    """A live run; its report goes to stderr (stdout may carry the events). A stop by a
    signal exits 128 + its number; a sink that gave up, or acknowledged none (or less than
    ``min_acked``) of what was sent, exits 1 with one line."""
    from sessionsim.live.run import run_live

    if not sink.startswith(("http://", "https://")):
        for name in ("batch", "interval_s", "inflight", "retries"):
            options.pop(name)
    result = run_live(sc, out, sink, **options)
    click.echo(result.line, err=True)
    click.echo(f"truth of what was acknowledged written to {out}", err=True)
    if as_json:
        _print_json(result.summary)
    if result.signal is not None:
        sys.exit(128 + result.signal)
    if result.lagged is not None:
        raise LagExceeded(
            f"--max-lag: the run fell {result.lagged:.2f} s behind its schedule "
            f"(more than {format_duration(options['max_lag_s'])}): the generator could not "
            "keep up; stopped"
        )
    live = result.summary.live
    offered = live.sent + live.unsent
    if result.error:
        raise RunFailed(result.error)
    if live.simulated_events and not live.acknowledged:  # a run that delivered nothing
        raise RunFailed(f"{sink}: acknowledged none of the {offered:,} events offered")
    if min_acked is not None and offered and live.acknowledged / offered < min_acked:
        raise RunFailed(
            f"{sink}: acknowledged {live.acknowledged:,} of {offered:,} events "
            f"({live.acknowledged / offered:.1%}) < --min-acked {min_acked:.1%}"
        )
    failed = missed(gates, result.summary)
    if failed:
        click.echo("sessionsim: gate failed: " + "; ".join(failed), err=True)
        sys.exit(GATE_FAILED)
