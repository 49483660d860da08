"""The ``sessionsim`` command line."""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click
import orjson
from pydantic import ValidationError
from tqdm import tqdm

from sessionizer import ColumnOutputs, SessionizerError
from sessionsim.batches import event_batches
from sessionsim.bundled import scenario_path
from sessionsim.checking import GATE_FAILED, gate_failures, score_outputs, settings_of
from sessionsim.collect import MAX_BODY, MAX_CONNECTIONS, Collector, parse_listen
from sessionsim.errors import RunFailed, SessionsimError
from sessionsim.live import run_live, users_for_rate
from sessionsim.load_shape import bursts_of, target_at
from sessionsim.pipeline import check_run_dir, run_scenario
from sessionsim.progress import sim_progress
from sessionsim.realism import (
    load_bands,
    measure_realism,
    plot_realism,
    realism_block,
)
from sessionsim.report import format_realism, format_report, format_simulation, format_sweep
from sessionsim.scenario import RunScenario, SessionizerSpec
from sessionsim.schema_docs import describe
from sessionsim.sweeping import recommendation, run_sweep
from simulator import (
    FORMATS,
    Burst,
    OutputSet,
    SimulatorError,
    committed_files,
    format_duration,
    load_scenario,
    parse_duration,
    refuse_if_too_big,
    simulate_sharded,
    simulate_to_dir,
)

__all__ = ["main"]

_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2

# check and sweep read whole files: the vectorised sessionizer (the reference's exact output).
BATCH_DEFAULT = "vectorized"

SPEC_FLAGS = (
    "sessionizer",
    "gap",
    "lateness",
    "split_on_app_open",
    "close_on_app_close",
    "attribution",
    "dedup",
    "watermark",
    "idle",
)


# The scenario keys the overriding flags set (a bad value is blamed on the flag).
FLAGS = {
    "seed": "--seed",
    "population.users": "--users",
    "duration": "--duration",
    "start": "--start",
}


def _overrides(seed, users, duration, start) -> dict:
    pairs = {"seed": seed, "population.users": users, "duration": duration, "start": start}
    return {k: v for k, v in pairs.items() if v is not None}


def scenario_options(f):
    """Add the scenario argument and the overrides every simulating command accepts."""
    f = click.option(
        "--force",
        is_flag=True,
        help="Run even when the expected size is over the limit (200 million events).",
    )(f)
    f = click.option("--start", help="Simulated start, ISO 8601 UTC (2026-01-05T00:00:00Z).")(f)
    f = click.option("--duration", help="Simulated time to cover (e.g. 6h, 1d).")(f)
    f = click.option("--users", type=int, help="Number of users.")(f)
    f = click.option("--seed", type=int, help="Random seed.")(f)
    return click.argument("scenario", callback=_scenario_path)(f)


def _scenario_path(ctx, param, value: str) -> Path:
    """A scenario file, or the name of a bundled one (``baseline``)."""
    return scenario_path(value)


def sessionizer_options(f):
    """Add the flags that configure one sessionizer setting (unset: the default)."""
    return engine_option(setting_options(f))


def engine_option(f):
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        help="Engines with workers (bytewax): worker threads per process.",
    )(f)


def setting_options(f):
    """The flags of the semantics of one setting (no engine options)."""
    f = click.option(
        "--idle",
        help="per-user watermark: wait this long past a quiet user's gap (default 0s).",
    )(f)
    f = click.option(
        "--watermark",
        metavar="global|per-user",
        help="One watermark for the stream (default), or one per user (SESSIONS.md 3); "
        "sweep takes a list (global,per-user).",
    )(f)
    f = click.option(
        "--no-dedup",
        "dedup",
        flag_value=False,
        default=None,
        help="Keep repeated deliveries of an event_id instead of dropping them.",
    )(f)
    f = click.option(
        "--attribution",
        type=click.Choice(["time", "search_id"]),
        help="Attribute clicks to searches by time (default) or by search_id.",
    )(f)
    f = click.option(
        "--close-on-app-close", is_flag=True, default=None, help="Cut a session after an app_close."
    )(f)
    f = click.option(
        "--split-on-app-open", is_flag=True, default=None, help="Cut a session before an app_open."
    )(f)
    f = click.option(
        "--lateness", help="Allowed lateness (default 2m: an SDK flush interval and the network)."
    )(f)
    f = click.option("--gap", help="Inactivity gap that closes a session (default 30m).")(f)
    return click.option(
        "--sessionizer",
        help=f"Name, or module:attribute (default reference; check: {BATCH_DEFAULT}).",
    )(f)


def _given(options: dict) -> dict:
    return {k: v for k, v in options.items() if v is not None}


def _saved_setting(run_dir: Path) -> dict:
    """The first sessionizer setting saved with a run (its scenario.yaml), or none."""
    path = run_dir / "scenario.yaml"
    if not path.is_file():
        return {}
    try:
        saved = load_scenario(path, model=RunScenario).sessionizers[0]
    except SimulatorError:
        return {}  # a run written by another version: the defaults, as before
    return {
        k: v
        for k, v in saved.model_dump(mode="json").items()
        if k in SPEC_FLAGS and k not in ("sessionizer",)
    }


def _spec(options: dict) -> SessionizerSpec:
    """Build a sessionizer setting from flags; a bad value is a one-line error naming it."""
    given = {k: v for k, v in options.items() if k in SPEC_FLAGS and v is not None}
    if options.get("workers") is not None:
        given["options"] = {"workers": options["workers"]}
    try:
        return SessionizerSpec.model_validate(given)
    except ValidationError as e:
        err = e.errors()[0]
        flag = "--" + str(err["loc"][0]).replace("_", "-")
        msg = err["msg"].removeprefix("Value error, ")
        raise SessionsimError(f"{flag}: {msg}") from None


def _bucket(f):
    return click.option(
        "--bucket",
        default="1h",
        show_default=True,
        help="Time bucket of the CTR-per-bucket metric (e.g. 1m, 1h).",
    )(f)


def _duration(flag: str, text: str) -> float:
    """Parse a duration flag; a bad value is a one-line error naming the flag."""
    try:
        return parse_duration(text)
    except ValueError as e:
        raise SessionsimError(f"{flag}: {e}") from None


def _bucket_ms(text: str) -> int:
    seconds = _duration("--bucket", text)
    if seconds < 0.001:
        raise SessionsimError(f"--bucket: expected a positive duration (got {text!r})")
    return round(seconds * 1000)


def _realism_flag(f):
    return click.option(
        "--realism/--no-realism",
        default=True,
        show_default=True,
        help="Add the run's realism block to report.json (one more pass over its files).",
    )(f)


def _check_size(sc, scenario, force: bool) -> None:
    """Refuse a run over the size limit unless --force; announce a big one on stderr."""
    guess = refuse_if_too_big(sc, str(scenario), force)
    if guess is not None and guess["events"] >= 5_000_000:
        click.echo(
            f"sessionsim: expecting about {guess['events']:,} events "
            f"({guess['bytes'] / 1e9:,.1f} GB of JSON lines, about "
            f"{guess['seconds'] / 60:,.0f} min in one process)",
            err=True,
        )


MAX_PROCESSES = 32  # shards, and Bytewax cluster processes: a stated bound, whatever the cores


def _processes(f):
    return click.option(
        "--processes",
        type=click.IntRange(1, MAX_PROCESSES),
        default=1,
        show_default=True,
        help="Shard the users over this many processes (at most backend.replicas; same bytes).",
    )(f)


def _fraction(ctx, param, value):
    """A gate's value: a finite number in [0, 1] (a NaN gate would pass everything)."""
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise click.BadParameter(f"expected a number from 0 to 1 (got {value})")
    return value


MAX_USERS = 2**24  # population.users is below this (the scenario's own bound)


class _Finite(click.FloatRange):
    """A float range that refuses NaN and infinities (click's lets NaN through)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"expected a finite number (got {value})", param, ctx)
        return number


def _gates(f):
    f = click.option(
        "--min-pairwise-f1",
        type=float,
        callback=_fraction,
        help=f"Exit {GATE_FAILED} if pairwise F1 is below this.",
    )(f)
    return click.option(
        "--max-ctr-error",
        type=float,
        callback=_fraction,
        help=f"Exit {GATE_FAILED} if |CTR measured - true| exceeds this.",
    )(f)


def _apply_gates(reports: list[dict], max_ctr_error, min_pairwise_f1) -> None:
    failed = [
        f"{r['label']}: {line}"
        for r in reports
        for line in gate_failures(r, max_ctr_error, min_pairwise_f1)
    ]
    if failed:
        click.echo("sessionsim: gate failed: " + "; ".join(failed), err=True)
        sys.exit(GATE_FAILED)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sessionsim")
def cli() -> None:
    """Simulate search-app users with ground truth; check sessionizers against it.

    Values come from the scenario file first, then from command-line flags.
    """


@cli.command()
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
def run(
    scenario,
    seed,
    users,
    duration,
    start,
    force,
    out,
    processes,
    max_ctr_error,
    min_pairwise_f1,
    realism,
    **spec: Any,
) -> None:
    """Simulate SCENARIO once, check each sessionizer setting from its files, print the report.

    Sessionizer flags replace the scenario's `sessionizers:` section.
    """
    overrides = _overrides(seed, users, duration, start)
    if any(v is not None for v in spec.values()):
        overrides["sessionizers"] = [_spec(spec).model_dump(mode="json")]
    sc = load_scenario(scenario, overrides, model=RunScenario, flags=FLAGS)
    _check_size(sc, scenario, force)
    reports = run_scenario(
        sc,
        out,
        lambda name: sim_progress(sc.duration, f"run {name}"),
        realism=realism,
        processes=processes,
    )
    for report in reports:
        click.echo(format_report(report))
        click.echo()
    if out is not None:
        click.echo(f"written to {out}")
    _apply_gates(reports, max_ctr_error, min_pairwise_f1)


@cli.command()
@scenario_options
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output directory (events.jsonl, truth/, scenario.yaml).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="JSON lines, or Parquet with typed columns (times as UTC timestamps).",
)
@_processes
@click.option(
    "--sink",
    help="Stream the events live: stdout, file:PATH, http://HOST:PORT/PATH or "
    "kafka://HOST:PORT/TOPIC "
    "(the truth of what was acknowledged goes to --out).",
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
@click.option("--stop-after", help="End a live run after this wall-clock duration (e.g. 5m).")
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
    "--min-acked",
    type=_Finite(0, 1),
    help="Exit 1 unless at least this share of the copies sent was acknowledged "
    "(default: exit 1 only when none was).",
)
def simulate(
    scenario,
    seed,
    users,
    duration,
    start,
    force,
    out,
    fmt,
    processes,
    sink,
    key,
    realtime,
    speed,
    rate,
    stop_after,
    stats_csv,
    http_batch,
    http_interval,
    inflight,
    retries,
    sink_timeout,
    min_acked,
):
    """Simulate SCENARIO and write its events and ground truth to --out.

    With --sink, stream the events live (paced with --realtime) and write to --out the
    truth of exactly what the sink acknowledged.
    """
    if str(out) == "-":
        raise SessionsimError("--out: expected a directory (for events on stdout: --sink stdout)")
    live = sink is not None
    if not live and (key or realtime or rate or stop_after or stats_csv):
        raise SessionsimError("--key, --realtime, --rate, --stop-after, --stats-csv: need --sink")
    if rate is not None and not realtime:
        raise SessionsimError("--rate: needs --realtime (a rate is per wall-clock second)")
    sc = load_scenario(
        scenario, _overrides(seed, users, duration, start), model=RunScenario, flags=FLAGS
    )
    target = None
    if sc.load:
        if not (realtime and sink):
            raise SessionsimError(f"{scenario}: load: needs --sink and --realtime (wall time)")
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
    if live:
        if processes > 1 or fmt != "jsonl":
            raise SessionsimError("--sink: a live run is one process, in JSON lines")
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
            min_acked=min_acked,
        )
        return
    with sim_progress(sc.duration) as progress:
        if processes > 1:
            summary = simulate_sharded(sc, out, processes, progress, fmt)
        else:
            summary = simulate_to_dir(sc, out, progress, fmt)
    click.echo(format_simulation(summary, str(out)))


WALL_MAX_S = 30 * 86_400.0  # a wall-clock flag (a stop, a timeout, an interval): 30 days


def _duration_flag(flag: str, text: str | None, maximum: float = WALL_MAX_S) -> float | None:
    """A wall-clock duration flag, at most ``maximum`` seconds (a larger one would never
    happen, or overflow the timer that waits for it)."""
    if text is None:
        return None
    seconds = _duration(flag, text)
    if not math.isfinite(seconds) or seconds > maximum:
        raise SessionsimError(f"{flag}: expected at most {maximum / 86_400:g}d (got {text!r})")
    return seconds


def _constant(rate: float, _wall_s: float) -> float:
    return rate


def _shaped(sc: RunScenario, speed: float) -> RunScenario:
    """The scenario with its load shape turned into a population and arrival bursts (the
    saved scenario then replays the same stream without a load: section)."""
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
    sc: RunScenario, out: Path, sink: str, min_acked: float | None, **options: Any
) -> None:
    """A live run; its report goes to stderr (stdout may carry the events). A stop by a
    signal exits 128 + its number; a sink that gave up, or acknowledged none (or less than
    ``min_acked``) of what was sent, exits 1 with one line."""
    if not sink.startswith(("http://", "https://")):
        for name in ("batch", "interval_s", "inflight", "retries"):
            options.pop(name)
    result = run_live(sc, out, sink, **options)
    click.echo(result.line, err=True)
    click.echo(f"truth of what was acknowledged written to {out}", err=True)
    if result.signal is not None:
        sys.exit(128 + result.signal)
    live = result.summary["live"]
    offered = live["sent"] + live["unsent"]
    if result.error:
        raise RunFailed(result.error)
    if live["simulated_events"] and not live["acknowledged"]:  # a run that delivered nothing
        raise RunFailed(f"{sink}: acknowledged none of the {offered:,} events offered")
    if min_acked is not None and offered and live["acknowledged"] / offered < min_acked:
        raise RunFailed(
            f"{sink}: acknowledged {live['acknowledged']:,} of {offered:,} events "
            f"({live['acknowledged'] / offered:.1%}) < --min-acked {min_acked:.1%}"
        )


def _late_path(out: str) -> str:
    return (out[: -len(".jsonl")] if out.endswith(".jsonl") else out) + ".late.jsonl"


@cli.command()
@click.argument("events")
@sessionizer_options
@click.option("--out", required=True, help="Sessions file (JSON lines), or - for stdout.")
@click.option(
    "--late", "late_path", help="Late events file (default: OUT.late.jsonl; required with --out -)."
)
@click.option(
    "--drop-late", is_flag=True, help="Write late events nowhere (they are counted in the summary)."
)
@click.option("--summary", "summary_path", help="Write the summary (JSON) here, not stderr.")
@_bucket
def sessionize(events, out, late_path, drop_late, summary_path, bucket, **options: Any) -> None:
    """Sessionize EVENTS (JSON lines or Parquet in arrival order, or - for stdin) into --out."""
    spec = _spec(options)
    config = spec.config()
    bucket_ms = _bucket_ms(bucket)
    if drop_late and late_path:
        raise SessionsimError("--drop-late: conflicts with --late (late events go one way)")
    if out == "-" and late_path is None and not drop_late:
        raise SessionsimError(
            "--late: required with --out - (name a file for late events, or say --drop-late)"
        )
    sessionizer = spec.build()
    if late_path is None and not drop_late:
        late_path = _late_path(out)
    with event_batches(events, "sessionizing") as batches, OutputSet(Path(".")) as outputs:
        sessions_out = sys.stdout.buffer if out == "-" else outputs.open(out)
        late_out = outputs.open(late_path) if late_path else None
        emitted = ColumnOutputs.of(sessionizer, batches)
        totals = score_outputs(emitted, config, None, sessions_out, late_out, bucket_ms)
        counts = emitted.counts
        summary = {
            **settings_of(spec),
            **totals.summary(),
            "accepted": counts.accepted,
            "late_events": counts.late,
            "late_written_to": late_path,  # null: --drop-late (counted, written nowhere)
            "duplicates": counts.duplicates,
        }
        if summary_path:
            outputs.open(summary_path).write(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    if not summary_path:
        click.echo(json.dumps(summary), err=True)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@sessionizer_options
@click.option(
    "--sessions",
    "sessions_file",
    type=click.Path(path_type=Path),
    help="Score this sessions file (made by any engine) instead of sessionizing.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write report.json here (default: RUN_DIR/report.json; a read-only run directory "
    "gets its report printed only).",
)
@_gates
@_bucket
@_realism_flag
def check(
    run_dir,
    sessions_file,
    report_path,
    max_ctr_error,
    min_pairwise_f1,
    bucket,
    realism,
    **options: Any,
) -> None:
    """Sessionize RUN_DIR's events (or read --sessions) and score against RUN_DIR/truth.

    The setting is the run's own (the first of its scenario.yaml's `sessionizers:`), with
    any sessionizer flag replacing its field; the engine defaults to vectorized.
    """
    spec = _spec({**_saved_setting(run_dir), **_given(options)})
    if options["sessionizer"] is None:
        spec = spec.model_copy(update={"sessionizer": BATCH_DEFAULT, "label": None})
    bucket_ms = _bucket_ms(bucket)
    target = report_path or run_dir / "report.json"
    # A report on disk is this check's or none: a failed check must not leave an old one.
    try:
        target.unlink(missing_ok=True)
    except OSError as e:
        if report_path is not None:
            raise SessionsimError(f"--report {target}: cannot write: {e.strerror}") from None
    report = check_run_dir(run_dir, spec, sessions_file, bucket_ms)
    if realism:
        report["realism"] = realism_block(run_dir)
    try:
        with OutputSet(target.parent) as outputs:
            outputs.open(target.name).write(
                orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"
            )
    except (OSError, SimulatorError) as e:
        why = e.strerror if isinstance(e, OSError) else str(e).rsplit(": ", 1)[-1]
        if report_path is not None:
            raise SessionsimError(f"--report {target}: cannot write: {why}") from None
        click.echo(
            f"sessionsim: {target}: cannot write ({why}): the report is printed only "
            "(--report PATH writes it elsewhere)",
            err=True,
        )
    click.echo(format_report(report))
    _apply_gates([report], max_ctr_error, min_pairwise_f1)


def _durations(flag: str, text: str) -> list[float]:
    return [_duration(flag, part) for part in text.split(",")]


@cli.command()
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
def sweep(
    scenario, seed, users, duration, start, force, out, workers, max_delay, **options: Any
) -> None:
    """Simulate SCENARIO once, then check every --gap (x every --lateness) on that stream.

    --gap and --lateness take comma-separated lists, e.g. --gap 1m,5m,30m,1h.
    """
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
    click.echo(format_sweep(rows))
    click.echo(recommendation(rows, max_delay_s))
    click.echo(f"written to {out}/sweep.csv, sweep.json, sweep.png")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--out", "figure", type=click.Path(path_type=Path), help="Draw the one-page figure here (PNG)."
)
@click.option(
    "--bands",
    type=click.Path(path_type=Path),
    help="A bands file of your own (default: the packaged realism_bands.yaml).",
)
def realism(run_dir, figure, bands):
    """Show how realistic RUN_DIR's stream is: each metric against its published band."""
    result = measure_realism(run_dir)
    rows = result.rows(load_bands(bands))
    click.echo(format_realism(rows))
    if figure is not None:
        with OutputSet(figure.parent) as outputs:
            outputs.open(figure.name).write(plot_realism(result, f"realism of {run_dir}"))
        click.echo(f"figure written to {figure}")


@cli.command()
@setting_options
@click.option(
    "--events",
    "events_path",
    default="events.jsonl",
    show_default=True,
    help="The events file the SQL reads (JSON lines or .parquet).",
)
def sql(events_path, **options: Any) -> None:
    """Print the DuckDB SQL of the duckdb sessionizer (sessions, searches, CTR) to paste
    into a warehouse; the setting flags shape it (a watermark has no meaning in batch)."""
    from sessionizer import read_events_sql, sessions_sql

    spec = _spec(options)
    click.echo(f"-- sessionsim sql: gap {format_duration(spec.gap)} (SESSIONS.md 2 and 4)")
    click.echo(read_events_sql(events_path))
    click.echo()
    click.echo(sessions_sql(spec.config()))
    click.echo()
    click.echo("SELECT * FROM ctr;")


@cli.command()
def schema():
    """Print the JSON Schema of scenario files."""
    click.echo(json.dumps(describe(RunScenario.model_json_schema()), indent=2))


@cli.command()
@click.option("--quick", is_flag=True, help="A short run (under two minutes) for every change.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write results here.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), help="Draw them here (PNG).")
def bench(quick, json_path, plot_path):
    """Measure throughput and memory of every stage: simulator and sessionizers."""
    from sessionsim.bench import run_bench

    run_bench(quick, json_path, plot_path)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is (partial files removed), with its own exit status."""


def _terminate(signum, frame) -> None:
    raise _Terminated()


def _interrupted(e: BaseException) -> None:
    """Say exactly what an interruption kept: the files completed before it, if any."""
    kept = committed_files()
    if kept:
        names = ", ".join(str(p) for p in kept[:4]) + (", ..." if len(kept) > 4 else "")
        what = f"kept the {len(kept)} files completed before it ({names}); partial files removed"
    else:
        what = "no partial output was kept"
    cause = e.__cause__ if isinstance(e, click.exceptions.Abort) else e
    terminated = isinstance(cause, _Terminated)
    click.echo(f"sessionsim: {'terminated' if terminated else 'interrupted'}; {what}", err=True)
    sys.exit(143 if terminated else 130)


@cli.command()
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="HOST:PORT.")
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="JSON lines file (appended)."
)
@click.option(
    "--fail-rate",
    type=_Finite(0, 1),
    default=0.0,
    show_default=True,
    help="Answer this fraction of requests with 500.",
)
@click.option(
    "--fail-first", type=click.IntRange(min=0), default=0, help="Answer the first N with 500."
)
@click.option("--latency", default="0s", show_default=True, help="Delay every answer.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --fail-rate.")
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=MAX_BODY,
    show_default=True,
    help="Bytes of a request body (decoded); larger: 413.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1, max=1024),
    default=MAX_CONNECTIONS,
    show_default=True,
    help="Connections served at once; more: 503.",
)
def collect(listen, out, fail_rate, fail_first, latency, seed, max_body, max_connections) -> None:
    """Receive NDJSON POSTs into a JSON lines file, until SIGINT or SIGTERM.

    Each request is stored whole or refused: every non-blank line must be a JSON object.
    """
    collector = Collector(
        parse_listen(listen),
        out,
        fail_rate=fail_rate,
        fail_first=fail_first,
        latency_s=_duration_flag("--latency", latency) or 0.0,
        seed=seed,
        max_body=max_body,
        max_connections=max_connections,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    server = threading.Thread(target=collector.serve, name="collect", daemon=True)
    server.start()
    click.echo(f"collect: listening on http://{collector.address}/, writing {out}", err=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        collector.shutdown()
        server.join()
        collector.close()
        for s_, h in old.items():
            signal.signal(s_, h)
    click.echo(collector.summary(), err=True)


def main() -> None:
    """Run the CLI; bad input ends with one line on stderr and exit status 2."""
    signal.signal(signal.SIGTERM, _terminate)
    committed_files(reset=True)  # this command's files, for what an interruption kept
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt) as e:
        _interrupted(e)
    except _NO_ARGS_IS_HELP as e:  # a bare command: its help
        e.show()
        sys.exit(2)
    except click.UsageError as e:  # one line, as every other bad input
        click.echo(f"sessionsim: {' '.join(e.format_message().split())}", err=True)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (SimulatorError, SessionizerError, SessionsimError) as e:
        click.echo(f"sessionsim: {e}", err=True)
        sys.exit(2)
    except RunFailed as e:
        click.echo(f"sessionsim: {e}", err=True)
        sys.exit(1)
