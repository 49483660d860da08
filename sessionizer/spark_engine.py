"""The ``spark`` and ``spark-batch`` sessionizers: Spark SQL's ``session_window``.

``spark`` is Structured Streaming, as a Spark team runs it: the events arrive as files in a
directory, in arrival order, ``micro_batch`` events to a file, read one file per trigger
(``maxFilesPerTrigger=1``, ``trigger(availableNow=True)``)::

    events.withWatermark("rt", <lateness>)
          .groupBy("user_id", session_window("rt", <gap>))
          .agg(collect_list("arrival"))            # append mode, to JSON files

The micro-batch boundaries are part of Spark's semantics: its watermark (the highest event
time seen, less the lateness) moves only between micro-batches, and an event behind it is
dropped silently; Spark counts those in its query progress (``numRowsDroppedByWatermark``),
and they are reported late here. At the end of input Spark emits no session still open
(its watermark never passes them): with ``flush`` (the default) one far-future event of
a user of its own is read last, so every open session is emitted, as the reference's end
of input does; ``flush=False`` shows what a stream that stops simply leaves unemitted (also
reported late here: read - placed).

``spark-batch`` is the same aggregation on the whole file at once: no watermark, nothing
late, the sessions of the events' times (equal to DuckDB's when nothing is deduplicated).

Both run on ``local[workers]``, on a standalone master and ``processes`` workers of
``workers`` cores each that it starts on 127.0.0.1 and stops, or on a running master
(``cluster="spark://HOST:PORT"``) (the ``spark`` extra: ``pyspark``; Java 17). Neither
deduplicates nor cuts at markers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sessionizer.base import Event, Late, Session, SessionConfig
from sessionizer.columns import LateColumns, SessionColumns, columns_of
from sessionizer.errors import SessionizerError
from sessionizer.jvm_outputs import placed_outputs
from sessionizer.processes import Child, free_ports, java, last_error

__all__ = ["SparkBatchSessionizer", "SparkSessionizer"]

_JVM = Path(__file__).with_name("jvm")
CLUSTER_READY_S = 120.0
MICRO_BATCH = 10_000  # events per file (micro-batch), by default
_FLUSH_USER = "\x00sessionsim-flush"
_SCHEMA = "arrival BIGINT, user_id STRING, ts BIGINT"

JOB_TIMEOUT_S = 6 * 3600.0


def _pyspark() -> None:
    """Refuse in one line where PySpark or Java is absent."""
    if importlib.util.find_spec("pyspark") is None:
        raise SessionizerError(
            "sessionizer 'spark': PySpark is not installed (pip install 'sessionsim[spark]')"
        )
    java("spark")


class _SparkBase:
    """What both names share: the events as CSV files, the outputs back as columns."""

    name = "spark"

    def __init__(
        self,
        config: SessionConfig,
        workers: int = 1,
        processes: int = 1,
        micro_batch: int = MICRO_BATCH,
        flush: bool = True,
        cluster: str | None = None,
    ) -> None:
        if workers < 1 or processes < 1 or micro_batch < 1:
            raise SessionizerError(
                f"sessionizer {self.name!r}: workers, processes and micro_batch must be >= 1"
            )
        self.config, self.workers, self.processes = config, workers, processes
        self.micro_batch, self.flush, self.cluster = micro_batch, flush, cluster
        _pyspark()
        self.dropped_by_watermark: int | None = None  # Spark's own count, after a run

    def sessionize(self, events: Iterable[Event]) -> Iterator[Session | Late]:
        for out in self.sessionize_columns(columns_of(events)):
            yield from (out.lates() if isinstance(out, LateColumns) else out.sessions())

    def sessionize_columns(
        self, batches: Iterable[pa.RecordBatch]
    ) -> Iterator[SessionColumns | LateColumns]:
        with tempfile.TemporaryDirectory(prefix="sessionsim-spark-") as tmp:
            work = Path(tmp)
            table = _table(batches)
            self._write(table, work / "in")
            with self._cluster(work) as master:
                self.dropped_by_watermark = _run_job(self, master, work)
            sessions = [s for s in _read_sessions(work / "out") if -1 not in s]
        yield from placed_outputs(table, sessions, self.late_reason)

    late_reason = "not in any session Spark emitted"

    @contextlib.contextmanager
    def _cluster(self, work: Path) -> Iterator[str]:
        if self.cluster is not None:
            yield self.cluster
            return
        if self.processes == 1:
            yield f"local[{self.workers}]"
            return
        with _standalone(work, self.processes, self.workers) as master:
            yield master

    mode = "stream"

    def _write(self, table: pa.Table, source: Path) -> None:
        """The events as the job reads them (CSV files in ``source``)."""
        raise NotImplementedError


class SparkSessionizer(_SparkBase):
    """Structured Streaming's ``session_window`` over micro-batch files (see the module)."""

    differs = {
        "event_watermark": "the watermark moves only between micro-batches: an event behind "
        "the highest time of its own micro-batch is on time",
        "late_events": "late events are dropped silently (Spark counts them in its progress)",
        "dedup": "no dedup: a repeated delivery is another event",
        "markers": "only the gap cuts (no split at app_open or after app_close)",
    }
    startup_s = 60.0  # a JVM and a first streaming query
    late_reason = "dropped by Spark: behind its watermark at its micro-batch"

    def _write(self, table: pa.Table, source: Path) -> None:
        """``micro_batch`` events a file, in arrival order (and the flush event last)."""
        source.mkdir()
        n = table.num_rows
        for k, lo in enumerate(range(0, n, self.micro_batch)):
            _write_csv(table, lo, min(n, lo + self.micro_batch), source / f"part-{k:07d}.csv")
        if self.flush and n:
            c = self.config
            last = int(pc.max(table.column("ts")).as_py())
            far = last + c.gap_ms + c.lateness_ms + 86_400_000
            flush = pa.table({"arrival": [-1], "user_id": [_FLUSH_USER], "ts": [far]})
            pacsv.write_csv(flush, source / "part-9999999.csv", _NO_HEADER)
        # Spark reads a directory's files oldest first (by modification time): one second
        # apart, in arrival order, so no two files tie.
        for k, path in enumerate(sorted(source.iterdir())):
            os.utime(path, (1_000_000_000 + k, 1_000_000_000 + k))


class SparkBatchSessionizer(_SparkBase):
    """``session_window`` on the whole file at once: no watermark (see the module)."""

    name = "spark-batch"
    batch_only = True  # no watermark: the conformance cases of lateness do not apply
    differs = {
        "dedup": "no dedup: a repeated delivery is another event",
        "markers": "only the gap cuts (no split at app_open or after app_close)",
    }
    startup_s = 60.0

    mode = "batch"

    def _write(self, table: pa.Table, source: Path) -> None:
        source.mkdir()
        _write_csv(table, 0, table.num_rows, source / "events.csv")


_NO_HEADER = pacsv.WriteOptions(include_header=False)


def _table(batches: Iterable[pa.RecordBatch]) -> pa.Table:
    read = [b for b in batches if b.num_rows]
    return pa.Table.from_batches(read).combine_chunks() if read else pa.table({})


def _write_csv(table: pa.Table, lo: int, hi: int, path: Path) -> None:
    """Rows ``lo:hi`` as ``arrival, user_id, ts`` (an empty file for no rows)."""
    if hi <= lo:
        path.write_bytes(b"")
        return
    part = table.slice(lo, hi - lo)
    columns = pa.table(
        {
            "arrival": pa.array(np.arange(lo, hi, dtype=np.int64)),
            "user_id": part.column("user_id"),
            "ts": part.column("ts"),
        }
    )
    pacsv.write_csv(columns, path, _NO_HEADER)


def _run_job(engine: _SparkBase, master: str, work: Path) -> int:
    """Run the job in a child process; return Spark's count of rows it dropped."""
    c = engine.config
    job = {
        "mode": engine.mode,
        "master": master,
        "gap_ms": c.gap_ms,
        "lateness_ms": c.lateness_ms,
        "source": str(work / "in"),
        "out": str(work / "out"),
        "checkpoint": str(work / "checkpoint"),
        "result": str(work / "result.json"),
        "log4j": str(_JVM / "log4j2.properties"),
    }
    (work / "job.json").write_text(json.dumps(job))
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    log = work / "job.log"
    command = [sys.executable, "-m", "sessionizer.spark_job", str(work / "job.json")]
    with Child(command, log, env=env) as child:
        code = child.wait(JOB_TIMEOUT_S)
    if code != 0 or not (work / "result.json").is_file():
        raise SessionizerError(
            f"sessionizer {engine.name!r}: the job failed (exit {code}): {last_error(log)}"
        )
    return int(json.loads((work / "result.json").read_text())["dropped_by_watermark"])


def _read_sessions(out: Path) -> list[list[int]]:
    sessions = []
    for part in sorted(out.glob("part-*")):
        with open(part, "rb") as f:
            sessions += [json.loads(line)["arrivals"] for line in f if line.strip()]
    return sessions


def _spark_home() -> Path:
    env = os.environ.get("SPARK_HOME")
    if env:
        return Path(env)
    import pyspark

    return Path(pyspark.__file__).parent


@contextlib.contextmanager
def _standalone(work: Path, workers: int, cores: int) -> Iterator[str]:
    """A standalone master and ``workers`` workers of ``cores`` cores on 127.0.0.1, started
    here and stopped when the block ends; yields the master's URL once all registered."""
    home = _spark_home()
    if not (home / "RELEASE").is_file():
        # A worker finds the jars of the executors it launches in $SPARK_HOME/jars only in a
        # release layout (a RELEASE file); pip's pyspark has the jars, not the file.
        shim = work / "spark-home"
        shim.mkdir()
        (shim / "RELEASE").write_text("pyspark (pip), for sessionsim's standalone workers\n")
        (shim / "jars").symlink_to(home / "jars")
        home = shim
    port, ui = free_ports(2)
    command = [java("spark"), f"-Dlog4j.configurationFile={_JVM / 'log4j2.properties'}"]
    command += ["-Xmx512m", "-cp", f"{home / 'jars'}/*"]
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    # The launcher of a worker's executors asks the Scala version of a source build unless
    # told (pip's jars are Scala 2.13's).
    env.setdefault("SPARK_SCALA_VERSION", "2.13")
    master = f"spark://127.0.0.1:{port}"
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            Child(
                [*command, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                 "--port", str(port), "--webui-port", str(ui)],
                work / "master.log", env=env,
            )
        )  # fmt: skip
        for k in range(workers):
            stack.enter_context(
                Child(
                    [*command, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                     "--cores", str(cores), "--memory", "1g", "--webui-port", "0",
                     "--work-dir", str(work / f"worker-{k}"), master],
                    work / f"worker-{k}.log", env=env,
                )
            )  # fmt: skip
        _wait_for_workers(f"http://127.0.0.1:{ui}/json/", workers, work)
        yield master


def _wait_for_workers(url: str, workers: int, work: Path) -> None:
    deadline = time.monotonic() + CLUSTER_READY_S
    seen: Any = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                seen = json.loads(answer.read())
            alive = [w for w in seen.get("workers", []) if w.get("state") == "ALIVE"]
            if len(alive) >= workers:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    why = "; ".join(f"{p.name}: {last_error(p)}" for p in sorted(work.glob("*.log")))
    raise SessionizerError(
        f"sessionizer 'spark': the standalone cluster was not ready in {CLUSTER_READY_S:g} s "
        f"({why})"
    )
