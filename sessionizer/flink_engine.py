"""The ``flink`` sessionizer: Flink SQL's session window over the run's events, on a JVM.

The events (JSON lines or Parquet, read by the harness) are written, in arrival order, as a
CSV file Flink's filesystem connector reads: ``arrival, user_id, ts``. The job is the SQL a
Flink team writes (``sessions_sql``)::

    CREATE TABLE events (..., rt AS TO_TIMESTAMP_LTZ(ts, 3),
                         WATERMARK FOR rt AS rt - INTERVAL <lateness>)
    INSERT INTO sessions
    SELECT user_id, ARRAY_AGG(arrival)
    FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(rt), INTERVAL <gap>))
    GROUP BY user_id, window_start, window_end

run by ``jvm/RunFlinkSql.java`` (Flink's TableEnvironment, in streaming mode) with the
jars of ``apache-flink-libraries`` (the ``flink`` extra; or ``FLINK_HOME``): a local
mini-cluster in that JVM at parallelism ``workers``, or a standalone cluster of
``processes`` task managers (``workers`` slots each) that it starts on 127.0.0.1 and stops,
or a running cluster at ``cluster="HOST:PORT"`` (its REST address).

What Flink computes, against docs/semantics.md (``differs``, checked on the bundled
scenarios): the watermark is the stream's (the highest event time read, less the lateness;
the lowest over parallel readers), and lateness is judged per session window: an event is
dropped when the window it would fall in has already fired, silently, so an accepted late
event can still split or bridge a session the reference would not. Nothing is
deduplicated and only the gap cuts (no markers). Flink reports no late output: what it
read and placed in no session is reported late here (read - placed), so every event is
accounted for. The end of input flushes every open window, as the reference does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from sessionizer.base import Event, Late, Session, SessionConfig
from sessionizer.columns import LateColumns, SessionColumns, columns_of
from sessionizer.errors import SessionizerError
from sessionizer.jvm_outputs import placed_outputs
from sessionizer.processes import Child, free_ports, java, last_error

__all__ = ["FlinkSessionizer", "flink_home", "interval", "sessions_sql"]

_JVM = Path(__file__).with_name("jvm")
CLUSTER_READY_S = 120.0  # a standalone cluster's task managers registered within this
JOB_TIMEOUT_S = 6 * 3600.0
LATE_REASON = "dropped by Flink: its session window had fired (behind the watermark)"


def flink_home() -> Path:
    """Flink's distribution: ``FLINK_HOME``, else the jars of ``apache-flink-libraries``."""
    env = os.environ.get("FLINK_HOME")
    places = [Path(env)] if env else []
    spec = importlib.util.find_spec("pyflink")
    if spec is not None:
        places += [Path(p) for p in spec.submodule_search_locations or ()]
    for home in places:
        if any((home / "lib").glob("flink-dist-*.jar")):
            return home
    raise SessionizerError(
        "sessionizer 'flink': Flink is not installed (pip install 'sessionsim[flink]', or "
        "set FLINK_HOME)"
    )


def interval(ms: int) -> str:
    """A duration in ms as a Flink SQL day-to-second interval literal."""
    days, rest = divmod(ms, 86_400_000)
    if days > 99:
        raise SessionizerError(f"sessionizer 'flink': {ms / 86_400_000:g} days is over 99 days")
    h, rest = divmod(rest, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    return f"INTERVAL '{days} {h:02d}:{m:02d}:{s:02d}.{milli:03d}' DAY TO SECOND(3)"


def _quoted(path: Path) -> str:
    return "'" + path.resolve().as_uri().replace("'", "''") + "'"


def sessions_sql(config: SessionConfig, events: Path, out: Path) -> str:
    """The job: the events (CSV: arrival, user_id, ts in epoch ms) into sessions (JSON:
    user_id and the arrival numbers of its events)."""
    return f"""CREATE TABLE events (
    arrival BIGINT,
    user_id STRING,
    ts BIGINT,
    rt AS TO_TIMESTAMP_LTZ(ts, 3),
    WATERMARK FOR rt AS rt - {interval(config.lateness_ms)}
) WITH ('connector' = 'filesystem', 'path' = {_quoted(events)}, 'format' = 'csv');
CREATE TABLE sessions (user_id STRING, arrivals ARRAY<BIGINT>)
WITH ('connector' = 'filesystem', 'path' = {_quoted(out)}, 'format' = 'json');
INSERT INTO sessions
SELECT user_id, ARRAY_AGG(arrival)
FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(rt), {interval(config.gap_ms)}))
GROUP BY user_id, window_start, window_end;
"""


def _java_command(home: Path, *main: str) -> list[str]:
    return [
        java("flink"),
        f"-Dlog4j.configurationFile={_JVM / 'log4j2.properties'}",
        "-cp",
        f"{home / 'lib'}/*",
        *main,
    ]


class FlinkSessionizer:
    """Flink SQL's session window (see the module); ``workers``: parallelism (per task
    manager with ``processes``); ``cluster``: a running cluster's REST ``HOST:PORT``."""

    differs = {
        "global_watermark": "lateness is judged per session window, and the watermark is the "
        "lowest over parallel readers",
        "late_events": "late events are dropped silently (reported late here: read - placed)",
        "finality": "a window fires once the watermark reaches end + gap (not passes it): an "
        "event bridging at exactly the gap can find its window fired",
        "dedup": "no dedup: a repeated delivery is another event",
        "markers": "only the gap cuts (no split at app_open or after app_close)",
    }
    startup_s = 30.0  # a JVM and a first job, per run

    def __init__(
        self,
        config: SessionConfig,
        workers: int = 1,
        processes: int = 1,
        cluster: str | None = None,
    ) -> None:
        if workers < 1 or processes < 1:
            raise SessionizerError("sessionizer 'flink': workers and processes must be >= 1")
        self.config, self.workers, self.processes, self.cluster = (
            config,
            workers,
            processes,
            cluster,
        )
        self.home = flink_home()
        java("flink")
        interval(config.gap_ms), interval(config.lateness_ms)  # refused here, not mid-run

    def sessionize(self, events: Iterable[Event]) -> Iterator[Session | Late]:
        for out in self.sessionize_columns(columns_of(events)):
            yield from (out.lates() if isinstance(out, LateColumns) else out.sessions())

    def sessionize_columns(
        self, batches: Iterable[pa.RecordBatch]
    ) -> Iterator[SessionColumns | LateColumns]:
        with tempfile.TemporaryDirectory(prefix="sessionsim-flink-") as tmp:
            work = Path(tmp)
            table = _write_events(batches, work / "events.csv")
            out = work / "sessions"
            (work / "job.sql").write_text(sessions_sql(self.config, work / "events.csv", out))
            self._run(work)
            arrivals = _read_sessions(out)
        yield from placed_outputs(table, arrivals, LATE_REASON)

    def _run(self, work: Path) -> None:
        if self.cluster is not None:
            self._submit(work, self.cluster, self.workers * self.processes)
        elif self.processes > 1:
            with _standalone(self.home, work, self.processes, self.workers) as rest:
                self._submit(work, rest, self.workers * self.processes)
        else:
            self._submit(work, None, self.workers)

    def _submit(self, work: Path, rest: str | None, parallelism: int) -> None:
        options = [f"parallelism.default={parallelism}"]
        if rest is not None:
            host, _, port = rest.rpartition(":")
            options += ["execution.target=remote", f"rest.address={host}", f"rest.port={port}"]
        log = work / "job.log"
        command = _java_command(
            self.home, str(_JVM / "RunFlinkSql.java"), str(work / "job.sql"), *options
        )
        with Child(command, log, cwd=work) as job:
            code = job.wait(JOB_TIMEOUT_S)
        if code != 0:
            raise SessionizerError(f"sessionizer 'flink': the job failed: {last_error(log)}")


def _write_events(batches: Iterable[pa.RecordBatch], path: Path) -> pa.Table:
    """Write ``arrival, user_id, ts`` as CSV in arrival order; return every event read."""
    read = [b for b in batches if b.num_rows]
    table = pa.Table.from_batches(read) if read else None
    if table is None:
        path.write_bytes(b"")
        return pa.table({})
    table = table.combine_chunks()
    columns = pa.table(
        {
            "arrival": pa.array(np.arange(table.num_rows, dtype=np.int64)),
            "user_id": table.column("user_id"),
            "ts": table.column("ts"),
        }
    )
    pacsv.write_csv(columns, path, pacsv.WriteOptions(include_header=False))
    return table


def _read_sessions(out: Path) -> list[list[int]]:
    """Each session's arrival numbers, from the job's JSON lines part files."""
    sessions = []
    for part in sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")):
        with open(part, "rb") as f:
            for line in f:
                if line.strip():
                    sessions.append(json.loads(line)["arrivals"])
    return sessions


_CONFIG = """jobmanager:
  rpc: {{address: 127.0.0.1, port: {rpc}}}
  bind-host: 127.0.0.1
  memory: {{process: {{size: 768m}}}}
taskmanager:
  bind-host: 127.0.0.1
  host: 127.0.0.1
  numberOfTaskSlots: {slots}
  cpu: {{cores: {slots}}}
  memory:
    task: {{heap: {{size: 384m}}, off-heap: {{size: 0m}}}}
    managed: {{size: 128m}}
    network: {{min: 64m, max: 64m}}
    framework: {{heap: {{size: 128m}}, off-heap: {{size: 128m}}}}
    jvm-metaspace: {{size: 256m}}
    jvm-overhead: {{min: 192m, max: 192m}}
rest: {{address: 127.0.0.1, bind-address: 127.0.0.1, port: {rest}}}
blob: {{server: {{port: '0'}}}}
"""
# A task manager's JVM, sized as the configuration above says (flink's scripts compute
# these flags; sessionsim starts the JVMs itself, so no script outlives it).
_TM_FLAGS = ("-Xmx512m", "-Xms512m", "-XX:MaxDirectMemorySize=192m", "-XX:MaxMetaspaceSize=256m")


@contextlib.contextmanager
def _standalone(home: Path, work: Path, task_managers: int, slots: int) -> Iterator[str]:
    """A standalone cluster on 127.0.0.1: one job manager and ``task_managers`` task
    managers of ``slots`` slots, started here and stopped when the block ends (every JVM);
    yields its REST address once every task manager has registered."""
    conf = work / "conf"
    conf.mkdir()
    rpc, rest = free_ports(2)
    (conf / "config.yaml").write_text(_CONFIG.format(rpc=rpc, rest=rest, slots=slots))
    main = "org.apache.flink.runtime"
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            Child(
                _java_command(
                    home,
                    "-Xmx512m",
                    f"{main}.entrypoint.StandaloneSessionClusterEntrypoint",
                    "--configDir",
                    str(conf),
                ),
                work / "jobmanager.log",
            )
        )
        for k in range(task_managers):
            stack.enter_context(
                Child(
                    _java_command(
                        home,
                        *_TM_FLAGS,
                        f"{main}.taskexecutor.TaskManagerRunner",
                        "--configDir",
                        str(conf),
                    ),
                    work / f"taskmanager-{k}.log",
                )
            )
        _wait_for_cluster(f"127.0.0.1:{rest}", task_managers, work)
        yield f"127.0.0.1:{rest}"


def _wait_for_cluster(rest: str, task_managers: int, work: Path) -> None:
    deadline = time.monotonic() + CLUSTER_READY_S
    seen = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{rest}/overview", timeout=2) as answer:
                seen = json.loads(answer.read())
            if seen.get("taskmanagers", 0) >= task_managers:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    logs = sorted(work.glob("*manager*.log"))
    why = "; ".join(f"{p.name}: {last_error(p)}" for p in logs)
    raise SessionizerError(
        f"sessionizer 'flink': the standalone cluster was not ready in {CLUSTER_READY_S:g} s "
        f"({seen or 'no answer'}; {why})"
    )
