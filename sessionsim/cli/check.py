"""`sessionsim check`, `sessionize` and `sql`: sessionize a run's events and score them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from sessionsim.cli.options import (
    BATCH_DEFAULT,
    _apply_gates,
    _bucket,
    _bucket_ms,
    _gates,
    _given,
    _json_flag,
    _parsed_gates,
    _print_json,
    _realism_flag,
    _saved,
    _spec,
    engine_processes_option,
    sessionizer_options,
    setting_options,
)
from sessionsim.cli.render import format_report
from sessionsim.errors import SessionsimError
from sessionsim.gates import check_keys
from simulator import (
    OutputSet,
    SimulatorError,
    format_duration,
)


def _late_path(out: str) -> str:
    return (out[: -len(".jsonl")] if out.endswith(".jsonl") else out) + ".late.jsonl"


@click.command()
@click.argument("events")
@sessionizer_options
@engine_processes_option
@click.option("--out", required=True, help="Sessions file (JSON lines), or - for stdout.")
@click.option(
    "--late", "late_path", help="Late events file (default: OUT.late.jsonl; required with --out -)."
)
@click.option(
    "--drop-late", is_flag=True, help="Write late events nowhere (they are counted in the summary)."
)
@click.option("--summary", "summary_path", help="Write the summary (JSON) here, not stderr.")
@_bucket
@_json_flag
def sessionize(
    events: str,
    out: str,
    late_path: str | None,
    drop_late: bool,
    summary_path: str | None,
    bucket: str,
    as_json: bool,
    **options: Any,
) -> None:
    """Sessionize EVENTS (JSON lines or Parquet in arrival order, or - for stdin) into --out.

    The summary goes to --summary, or to stdout with --json, else to stderr."""
    from sessionizer import ColumnOutputs
    from sessionsim.batches import event_batches
    from sessionsim.scoring.check import score_outputs, settings_of

    spec = _spec(options)
    config = spec.config()
    bucket_ms = _bucket_ms(bucket)
    if drop_late and late_path:
        raise SessionsimError("--drop-late: conflicts with --late (late events go one way)")
    if as_json and out == "-":
        raise SessionsimError("--json: conflicts with --out - (stdout carries the sessions)")
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
    if as_json:
        _print_json(summary)
    elif not summary_path:
        click.echo(json.dumps(summary), err=True)


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@sessionizer_options
@engine_processes_option
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
@_json_flag
def check(
    run_dir: Path,
    sessions_file: Path | None,
    report_path: Path | None,
    max_ctr_error: float | None,
    min_pairwise_f1: float | None,
    gates: tuple[str, ...],
    bucket: str,
    realism: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Sessionize RUN_DIR's events (or read --sessions) and score against RUN_DIR/truth.

    The setting is the run's own (the first of its scenario.yaml's `sessionizers:`), with
    any sessionizer flag replacing its field; the engine defaults to vectorized.
    """
    from sessionsim.pipeline import check_run_dir, with_realism
    from sessionsim.scoring.report import Report

    setting, saved_gates = _saved(run_dir)
    thresholds = _parsed_gates(gates) + saved_gates
    check_keys(thresholds, Report)
    spec = _spec({**setting, **_given(options)})
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
        (report,) = with_realism([report], run_dir)
    try:
        with OutputSet(target.parent) as outputs:
            outputs.open(target.name).write(report.encode())
    except (OSError, SimulatorError) as e:
        why = e.strerror if isinstance(e, OSError) else str(e).rsplit(": ", 1)[-1]
        if report_path is not None:
            raise SessionsimError(f"--report {target}: cannot write: {why}") from None
        click.echo(
            f"sessionsim: {target}: cannot write ({why}): the report is printed only "
            "(--report PATH writes it elsewhere)",
            err=True,
        )
    click.echo(format_report(report), err=as_json)
    if as_json:
        _print_json(report)
    _apply_gates([report], max_ctr_error, min_pairwise_f1, thresholds)


@click.command()
@setting_options
@click.option(
    "--events",
    "events_path",
    default="events.jsonl",
    show_default=True,
    help="The events file the SQL reads (JSON lines or .parquet).",
)
def sql(
    events_path: str,
    **options: Any,
) -> None:
    """Print the DuckDB SQL of the duckdb sessionizer (sessions, searches, CTR) to paste
    into a warehouse; the setting flags shape it (a watermark has no meaning in batch)."""
    from sessionizer import read_events_sql, sessions_sql

    spec = _spec(options)
    click.echo(f"-- sessionsim sql: gap {format_duration(spec.gap)} (docs/semantics.md 2 and 4)")
    click.echo(read_events_sql(events_path))
    click.echo()
    click.echo(sessions_sql(spec.config()))
    click.echo()
    click.echo("SELECT * FROM ctr;")
