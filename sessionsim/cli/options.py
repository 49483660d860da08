"""Options and argument types shared by the commands."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import msgspec
import orjson
from pydantic import ValidationError

from sessionsim.bundled import scenario_path
from sessionsim.errors import GATE_FAILED, SessionsimError
from sessionsim.gates import Gate, missed, parse_gate
from sessionsim.scenario import RunScenario, SessionizerSpec
from simulator import (
    SimulatorError,
    load_scenario,
    parse_duration,
    refuse_if_too_big,
)

if TYPE_CHECKING:
    from sessionsim.scoring.report import Report

Command = Callable[..., Any]  # a command's function, as an option decorator takes it

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


def _overrides(
    seed: int | None, users: int | None, duration: str | None, start: str | None
) -> dict:
    pairs = {"seed": seed, "population.users": users, "duration": duration, "start": start}
    return {k: v for k, v in pairs.items() if v is not None}


def scenario_options(f: Callable[..., Any]) -> Callable[..., Any]:
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


def _scenario_path(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    """A scenario file, or the name of a bundled one (``baseline``)."""
    return scenario_path(value)


def sessionizer_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the flags that configure one sessionizer setting (unset: the default)."""
    return engine_option(setting_options(f))


def engine_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the engines' options: workers, and a running cluster to use."""
    f = click.option(
        "--cluster",
        metavar="ADDRESS",
        help="flink: a running cluster's REST HOST:PORT; spark: a master URL "
        "(spark://HOST:PORT). Default: sessionsim's own (local, or started with --processes).",
    )(f)
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        help="Engines with workers: Bytewax worker threads per process, Flink parallelism "
        "per task manager, Spark cores (local[N], or per standalone worker).",
    )(f)


def engine_processes_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--processes`` for the engines that run as a cluster (not the simulator)."""
    return click.option(
        "--processes",
        type=click.IntRange(1, MAX_PROCESSES),
        help="Engines that run as a cluster: Bytewax processes, Flink task managers, Spark "
        "workers, started on 127.0.0.1 and stopped after (default: one process, local).",
    )(f)


def setting_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The flags of the semantics of one setting (no engine options)."""
    f = click.option(
        "--idle",
        help="per-user watermark: wait this long past a quiet user's gap (default 0s).",
    )(f)
    f = click.option(
        "--watermark",
        metavar="global|per-user",
        help="One watermark for the stream (default), or one per user (docs/semantics.md 3); "
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


def _saved(run_dir: Path) -> tuple[dict, list[Gate]]:
    """What a run saved with it (its scenario.yaml): its first sessionizer setting and its
    gates; none of either for a run without one, or written by another version."""
    path = run_dir / "scenario.yaml"
    if not path.is_file():
        return {}, []
    try:
        saved = load_scenario(path, model=RunScenario)
    except SimulatorError:
        return {}, []  # a run written by another version: the defaults, as before
    setting = {
        k: v
        for k, v in saved.sessionizers[0].model_dump(mode="json").items()
        if k in SPEC_FLAGS and k not in ("sessionizer",)
    }
    return setting, _parsed_gates(saved.gates, f"{path}: gates:")


def _spec(options: dict) -> SessionizerSpec:
    """Build a sessionizer setting from flags; a bad value is a one-line error naming it."""
    given = {k: v for k, v in options.items() if k in SPEC_FLAGS and v is not None}
    engine = {
        k: options[k] for k in ("workers", "processes", "cluster") if options.get(k) is not None
    }
    if engine:
        given["options"] = engine
    try:
        return SessionizerSpec.model_validate(given)
    except ValidationError as e:
        err = e.errors()[0]
        flag = "--" + str(err["loc"][0]).replace("_", "-")
        msg = err["msg"].removeprefix("Value error, ")
        raise SessionsimError(f"{flag}: {msg}") from None


def _bucket(f: Command) -> Command:
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


def _realism_flag(f: Command) -> Command:
    return click.option(
        "--realism/--no-realism",
        default=True,
        show_default=True,
        help="Add the run's realism block to report.json (one more pass over its files).",
    )(f)


def _check_size(sc: RunScenario, scenario: str | Path, force: bool) -> None:
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


def _processes(f: Command) -> Command:
    return click.option(
        "--processes",
        type=click.IntRange(1, MAX_PROCESSES),
        default=1,
        show_default=True,
        help="Shard the users over this many processes (at most backend.replicas; same bytes).",
    )(f)


def _fraction(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A gate's value: a finite number in [0, 1] (a NaN gate would pass everything)."""
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise click.BadParameter(f"expected a number from 0 to 1 (got {value})")
    return value


MAX_USERS = 2**24  # population.users is below this (the scenario's own bound)


class _Finite(click.FloatRange):
    """A float range that refuses NaN and infinities (click's lets NaN through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"expected a finite number (got {value})", param, ctx)
        return number


def _gates(f: Command) -> Command:
    f = click.option(
        "--gate",
        "gates",
        multiple=True,
        help=f"KEY OP NUMBER over the report (repeatable), e.g. 'ctr_abs_error<=0.01': exit "
        f"{GATE_FAILED} naming each gate missed; the scenario's gates: apply too.",
    )(f)
    f = click.option(
        "--min-pairwise-f1",
        type=float,
        callback=_fraction,
        help=f"Exit {GATE_FAILED} if pairwise F1 is below this (as --gate 'pairwise_f1>=X').",
    )(f)
    return click.option(
        "--max-ctr-error",
        type=float,
        callback=_fraction,
        help=f"Exit {GATE_FAILED} if |CTR measured - true| exceeds this "
        "(as --gate 'ctr_abs_error<=X').",
    )(f)


def _json_flag(f: Command) -> Command:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the results as JSON on stdout and nothing else there (text: stderr).",
    )(f)


def _print_json(results: Any) -> None:
    """The results, one JSON document on stdout."""
    sys.stdout.buffer.write(orjson.dumps(msgspec.to_builtins(results)) + b"\n")
    sys.stdout.buffer.flush()


def _parsed_gates(texts: tuple[str, ...] | list[str], where: str = "--gate") -> list[Gate]:
    """Parse gates before any work, so a malformed one costs no run."""
    return [parse_gate(t, where) for t in texts]


def _apply_gates(
    reports: list[Report],
    max_ctr_error: float | None,
    min_pairwise_f1: float | None,
    gates: list[Gate] | None = None,
) -> None:
    """Exit GATE_FAILED naming every gate any report misses (an unknown key: exit 2)."""
    failed = [
        f"{r.label}: {line}"
        for r in reports
        for line in [
            *r.failures(max_ctr_error, min_pairwise_f1),
            *missed(gates or [], r),
        ]
    ]
    if failed:
        click.echo("sessionsim: gate failed: " + "; ".join(failed), err=True)
        sys.exit(GATE_FAILED)


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


def _durations(flag: str, text: str) -> list[float]:
    return [_duration(flag, part) for part in text.split(",")]
