"""The ``duckdb`` sessionizer: docs/semantics.md 2 and 4 as batch SQL (gaps and islands).

Batch has no watermark: nothing is late, and the sessions equal the reference's whenever
nothing is late for it. The SQL is written to be read (and pasted into a warehouse):
``sessions_sql`` returns it, ``sessionsim sql`` prints it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sessionizer.base import Counts, Event, Late, Session, SessionConfig
from sessionizer.columns import SCHEMA, SessionColumns, columns_of
from sessionizer.errors import SessionizerError

try:
    import duckdb
except ImportError:  # pragma: no cover - the engines extra is not installed
    duckdb = None  # type: ignore[assignment]

__all__ = ["DuckDBSessionizer", "SessionizerError", "read_events_sql", "sessions_sql"]

_COLUMNS = (
    "{event_id: 'VARCHAR', type: 'VARCHAR', user_id: 'VARCHAR', ts: 'TIMESTAMPTZ', "
    "search_id: 'VARCHAR', items: 'VARCHAR[]', position: 'INTEGER'}"
)


def read_events_sql(path: str) -> str:
    """SQL for the events file (JSON lines or Parquet), with its arrival order."""
    quoted = "'" + path.replace("'", "''") + "'"
    if path.endswith(".parquet"):
        source = f"read_parquet({quoted}, file_row_number = true)"
        arrival = "file_row_number"
    else:
        source = f"read_json({quoted}, format = 'newline_delimited', columns = {_COLUMNS})"
        arrival = "row_number() OVER ()"  # the scan keeps the file's order
    return f"""CREATE OR REPLACE TEMP TABLE events AS
SELECT {arrival} AS arrival, event_id, type, user_id, epoch_ms(ts) AS ts,
       search_id, len(items) AS items, position
FROM {source};"""


def sessions_sql(config: SessionConfig) -> str:
    """The SQL that cuts ``events`` (arrival, event_id, type, user_id, ts in epoch ms,
    search_id, items, position) into sessions and searches, then CTR."""
    return _cut_sql(config) + _searches_sql(config)


def _cut_sql(config: SessionConfig) -> str:
    """The sessions part: ``numbered`` events and ``sessions``."""
    cuts = [f"ts - lag(ts) OVER w > {config.gap_ms}  -- the gap, in ms"]
    if config.split_on_app_open:
        cuts.append("type = 'app_open'")
    if config.close_on_app_close:
        cuts.append("lag(type) OVER w = 'app_close'")
    cut = "\n          OR ".join(cuts)
    dedup = (
        "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY arrival) = 1"
        if config.dedup
        else "-- (dedup off: every delivery counts)"
    )
    return f"""-- Sessions (docs/semantics.md 2): per user, the first delivery of each event_id, in
-- (ts, arrival) order; a new session starts at the first event and wherever a cut holds.
CREATE OR REPLACE TEMP TABLE numbered AS
WITH firsts AS (
    SELECT * FROM events
    {dedup}
),
marked AS (
    SELECT *,
        CASE WHEN lag(ts) OVER w IS NULL
          OR {cut}
        THEN 1 ELSE 0 END AS new_session
    FROM firsts
    WINDOW w AS (PARTITION BY user_id ORDER BY ts, arrival)
)
SELECT *,
    sum(new_session) OVER (PARTITION BY user_id ORDER BY ts, arrival
                           ROWS UNBOUNDED PRECEDING) AS session_no,
    row_number() OVER (PARTITION BY user_id ORDER BY ts, arrival) AS pos
FROM marked;

CREATE OR REPLACE TEMP TABLE sessions AS
SELECT user_id || '@' || min(ts) AS session_id, user_id, session_no,
       min(ts) AS start, max(ts) AS "end", count(*) AS events
FROM numbered
GROUP BY user_id, session_no;
"""


def _searches_sql(config: SessionConfig) -> str:
    """The CTR part: ``searches`` of the sessions and the ``ctr`` view."""
    if config.attribution == "search_id":
        owner = """coalesce(
           CASE WHEN e.type IN ('results', 'click') AND e.search_id IS NOT NULL THEN (
               SELECT max(s.search_no) FROM searched s
               WHERE s.user_id = e.user_id AND s.session_no = e.session_no
                 AND s.type = 'search' AND s.search_id = e.search_id AND s.pos < e.pos)
           END,
           CASE WHEN e.type IN ('results', 'click') AND e.search_id IS NOT NULL THEN 0
                ELSE e.search_no END)"""
    else:
        owner = "e.search_no"
    return f"""
-- Searches (docs/semantics.md 4): a search owns the events after it up to the next search
-- ({config.attribution} attribution).
CREATE OR REPLACE TEMP TABLE searches AS
WITH searched AS (
    SELECT *,
        sum(CASE WHEN type = 'search' THEN 1 ELSE 0 END) OVER (
            PARTITION BY user_id, session_no ORDER BY ts, arrival
            ROWS UNBOUNDED PRECEDING) AS search_no
    FROM numbered
),
owned AS (
    SELECT e.*, {owner} AS owner
    FROM searched e
),
owners AS (
    SELECT user_id, session_no, owner AS search_no,
        arg_min(items, pos) FILTER (WHERE type = 'results') AS items,
        count(*) FILTER (WHERE type = 'click') AS clicks
    FROM owned
    WHERE owner > 0
    GROUP BY user_id, session_no, owner
)
SELECT s.user_id, s.session_no, s.search_no, s.ts, o.items, coalesce(o.clicks, 0) AS clicks
FROM searched s LEFT JOIN owners o USING (user_id, session_no, search_no)
WHERE s.type = 'search';

-- CTR: did the user click any result of the search (sessions without a search add nothing).
CREATE OR REPLACE TEMP VIEW ctr AS
SELECT count(*) AS searches,
       count(*) FILTER (WHERE clicks > 0) AS clicked_searches,
       coalesce(sum(clicks), 0) AS clicks,
       count(*) FILTER (WHERE clicks > 0) / nullif(count(*), 0) AS ctr,
       count(*) FILTER (WHERE items = 0) AS zero_result_searches,
       count(*) FILTER (WHERE items > 0 AND clicks = 0) AS abandoned_searches
FROM searches;"""


class DuckDBSessionizer:
    """Batch sessions in DuckDB SQL over the whole input (events or an events file)."""

    batch_only = True  # no watermark: arrival order does not matter, nothing is late

    def __init__(
        self, config: SessionConfig, threads: int | None = None, ctr: bool = False
    ) -> None:
        """``ctr``: also run the SQL's searches and CTR (``metrics``); the harness computes
        CTR from the sessions itself, so by default only the sessions are cut."""
        if duckdb is None:
            raise SessionizerError(
                "sessionizer 'duckdb': DuckDB is not installed (pip install 'sessionsim[engines]')"
            )
        self.config, self.threads, self.ctr = config, threads, ctr
        self.counts = Counts()
        self.metrics: dict | None = None  # the SQL's own CTR totals, after a run with ctr

    def _connect(self) -> Any:
        con = duckdb.connect()
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        return con

    def sessionize(self, events: Iterable[Event]) -> Iterator[Session | Late]:
        for sessions in self.sessionize_columns(columns_of(events)):
            yield from sessions.sessions()

    def sessionize_columns(self, batches: Iterable[pa.RecordBatch]) -> Iterator[SessionColumns]:
        """Sessions as columns from event batches (``sessionizer.columns``), in DuckDB."""
        table = pa.Table.from_batches(list(batches), schema=SCHEMA)
        n = table.num_rows
        table = table.add_column(0, "arrival", pa.array(np.arange(n, dtype=np.int64)))
        con = self._connect()
        con.register("events", table)
        yield from self._run(con, n)

    def sessionize_file(self, path: Path | str) -> Iterator[SessionColumns]:
        """Read the events file (JSON lines or Parquet) in DuckDB itself; sessions as
        columns."""
        con = self._connect()
        try:
            con.execute(read_events_sql(str(path))).fetchall()
            n = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        except duckdb.Error as e:
            raise SessionizerError(f"{path}: duckdb cannot read the events: {e}") from None
        yield from self._run(con, n)

    def _run(self, con: Any, n: int) -> Iterator[SessionColumns]:
        self.counts = Counts()  # this run's: counts never carry over from an earlier one
        con.execute(_cut_sql(self.config))
        if self.ctr:
            con.execute(_searches_sql(self.config))
            ctr = con.execute("SELECT * FROM ctr")
            names = [d[0] for d in ctr.description]
            self.metrics = dict(zip(names, ctr.fetchall()[0]))
        accepted = con.execute("SELECT count(*) FROM numbered").fetchall()[0][0]
        self.counts.accepted += accepted
        self.counts.duplicates += n - accepted
        # Sessions in the order a stream's end of input would flush them, as Arrow.
        result = con.sql(
            """SELECT n.event_id, n.type, n.user_id, n.ts, n.search_id,
                      n.items::INTEGER AS items, n.position::INTEGER AS position,
                      n.session_no, s.start, s."end", s.events
               FROM numbered n JOIN sessions s USING (user_id, session_no)
               ORDER BY s."end", s.start, n.user_id, n.pos"""
        )
        arrow = getattr(result, "to_arrow_reader", None) or result.fetch_record_batch  # 1.4+
        reader = arrow(_ROWS)
        carry: pa.Table | None = None
        for batch in reader:
            rows = pa.Table.from_batches([batch])
            if carry is not None:
                rows = pa.concat_tables([carry, rows])
            done, carry = _whole_sessions(rows)
            if done is not None:
                yield done
        if carry is not None and carry.num_rows:
            done, carry = _whole_sessions(carry, final=True)
            if done is not None:
                yield done
        con.close()


_ROWS = 1 << 20  # rows of a result batch


def _whole_sessions(
    rows: pa.Table, final: bool = False
) -> tuple[SessionColumns | None, pa.Table | None]:
    """The complete sessions at the head of ``rows`` (ordered by session; each row carries
    its session's number and event count), and the rows of the last session when it may go
    on in the next result batch."""
    rows = rows.combine_chunks()
    n = rows.num_rows
    if n == 0:
        return None, None
    user = rows.column("user_id").chunk(0)
    number = rows.column("session_no").to_numpy()
    change = np.ones(n, dtype=bool)
    if n > 1:
        other_user = pc.not_equal(user.slice(1), user.slice(0, n - 1))
        change[1:] = (number[1:] != number[:-1]) | other_user.to_numpy(zero_copy_only=False)
    first = np.flatnonzero(change)
    cut = n
    whole = n - first[-1] == rows.column("events").to_numpy()[first[-1]]
    if not whole and not final:  # the last session's rows go on in the next batch
        cut, first = int(first[-1]), first[:-1]
    if not len(first):
        return None, rows
    head = rows.slice(0, cut)
    events = pa.RecordBatch.from_arrays(
        [head.column(f.name).chunk(0) for f in SCHEMA], schema=SCHEMA
    )
    sessions = SessionColumns(
        user_id=user.take(pa.array(first)),
        start=head.column("start").to_numpy()[first],
        end=head.column("end").to_numpy()[first],
        offsets=np.concatenate((first, [cut])).astype(np.int64),
        events=events,
    )
    return sessions, (rows.slice(cut) if cut < n else None)
