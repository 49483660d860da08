"""The truth files' rows as typed columns, built for a batch of finished visits at once.

``truth_tables`` turns the ledger's recorded visits (in their row order) into the columns
of ``truth/sessions``, ``truth/searches`` and ``truth/events`` (``text.Column``), with
each row's merge key for sharded runs: (tick, user, visit, row) as 28 hexadecimal digits
and a tab. Event ids and times are computed once per value, vectorised, and shared by the
rows that name them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulator.codes import SEARCH
from simulator.events import TYPE_NAMES
from simulator.query_text import EDITS, fields
from simulator.table import Events, concat, ranges, runs, size, take
from simulator.text import Column, hex_bytes

if TYPE_CHECKING:
    from simulator.events import EventCodec

__all__ = ["Searches", "Table", "truth_tables"]

Table = tuple[list[Column], int, np.ndarray]  # columns, rows, merge keys
_KEY = np.dtype([("tick", ">u4"), ("user", ">u4"), ("visit", ">u4"), ("row", ">u2")])


class Searches:
    """The played searches among events sorted by visit and n: their ``rows``, whether the
    user ``gave_up`` waiting, the items shown (``results``: 0 when none or given up) and
    the ``clicks`` (0 when given up)."""

    __slots__ = ("clicks", "gave_up", "results", "rows")

    def __init__(self, ev: Events) -> None:
        kind = ev["kind"]
        self.rows = np.flatnonzero(kind == SEARCH)
        self.gave_up = ev["gave_up"][self.rows]
        after = np.minimum(self.rows + 1, len(kind) - 1)  # a served search's results event
        self.results = np.where(self.gave_up, 0, ev["shown"][after])
        self.clicks = np.where(self.gave_up, 0, ev["clicks"][self.rows])


def _keys(tick: np.ndarray, user: np.ndarray, visit: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Merge keys (``S29``: 28 hexadecimal digits and a tab): they sort as (tick, user,
    visit, row)."""
    k = np.empty(len(tick), dtype=_KEY)
    k["tick"], k["user"], k["visit"], k["row"] = tick, user, visit, row
    digits = hex_bytes(k.view(np.uint8).reshape(len(tick), _KEY.itemsize))
    return np.strings.add(digits, b"\t")


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def truth_tables(codec: EventCodec, ready: list[tuple[int, Events, list[list]]]) -> list[Table]:
    """Return the sessions, searches and events tables of the visits in ``ready``: per
    tick, its visits' events (columns sorted by visit id and n) and each visit's [user,
    visit number, launch, last event time], in visit id order. Rows go by (tick, user,
    visit)."""
    ev = concat([r[1] for r in ready])
    infos = [i for r in ready for i in r[2]]
    first, _, _ = runs(ev["vid"])
    # Chunks may repeat no visit; within the concatenation, visits keep their chunk's order.
    v_tick = np.repeat([r[0] for r in ready], [len(r[2]) for r in ready]).astype(np.int64)
    user = np.array([i[0] for i in infos], dtype=np.int64)
    seq = np.array([i[1] for i in infos], dtype=np.int64)
    start = np.array([i[2] for i in infos], dtype=np.float64)
    end = np.array([i[3] for i in infos], dtype=np.float64)
    n_events = np.diff(np.r_[first, size(ev)])
    order = np.lexsort((seq, user, v_tick))  # visits in row order
    ev = take(ev, ranges(first[order], first[order] + n_events[order]))
    v_tick, user, seq = v_tick[order], user[order], seq[order]
    start, end, n_events = start[order], end[order], n_events[order]
    n_visits = len(user)
    ev_lo = _offsets(n_events)
    ev_user, ev_seq, ev_n = ev["user"], ev["seq"], ev["n"]
    ids = codec.event_ids(ev_user, ev_seq, ev_n)
    user_ids = codec.user_ids(user)
    session_ids = np.strings.add(np.strings.add(user_ids, b".v"), seq.astype("S"))
    visit_of = np.repeat(np.arange(n_visits), n_events)
    sent = ev["deliveries"] > 0
    t_s = ev["t"]
    received = np.where(sent, ev["received"], 0.0)
    ms = codec.epoch_ms_of
    events_table: list[Column] = [
        Column("event_id", "str", ids),
        Column("session_id", "str", session_ids[visit_of]),
        Column("type", "str", TYPE_NAMES[ev["kind"]]),
        Column("true_ts", "time", ms(t_s)),
        Column("ts", "time", ms(ev["stamped"])),
        Column("deliveries", "int", ev["deliveries"]),
        Column("received_at", "time", ms(received), null=~sent),
        Column("delay_s", "float", received - t_s, null=~sent, decimals=3),
        Column("offline", "bool", ev["offline"]),
        Column("batch", "int", np.maximum(ev["batch"], 0), null=ev["batch"] < 0),
        Column("request", "int", np.maximum(ev["request"], 0), null=ev["request"] < 0),
    ]
    events_keys = _keys(v_tick[visit_of], ev_user, ev_seq, ev_n)

    played = Searches(ev)
    owner = visit_of[played.rows]

    def per_visit(weights: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=weights, minlength=n_visits).astype(np.int64)

    sessions_table: list[Column] = [
        Column("session_id", "str", session_ids),
        Column("user_id", "str", user_ids),
        Column("start", "time", ms(start)),
        Column("end", "time", ms(end)),
        Column("event_ids", "strs", ids, offsets=ev_lo),
        Column("searches", "int", per_visit(np.ones(len(owner)))),
        Column("clicked_searches", "int", per_visit(played.clicks > 0)),
        Column("clicks", "int", per_visit(played.clicks)),
    ]
    sessions_keys = _keys(v_tick, user, seq, np.zeros(n_visits, dtype=np.int64))
    searches = _searches_table(codec, ev, played, ids, session_ids, user_ids, visit_of, v_tick)
    return [
        (sessions_table, n_visits, sessions_keys),
        searches,
        (events_table, len(ids), events_keys),
    ]


def _searches_table(
    codec: EventCodec,
    ev: Events,
    played: Searches,
    ids: np.ndarray,
    session_ids: np.ndarray,
    user_ids: np.ndarray,
    visit_of: np.ndarray,
    v_tick: np.ndarray,
) -> Table:
    """The searches table: one row per played search, with its page's latent values."""
    rows, gave_up, results, clicks = played.rows, played.gave_up, played.results, played.clicks
    n = len(rows)
    paged = results > 0
    page = ev["items"].shape[1] if ev["items"].ndim == 2 else 0
    queries = codec.vocabulary.texts(ev["query"][rows])
    edits = np.asarray(EDITS, dtype=object)[fields(ev["query"][rows], "edit")]
    paged_rows = rows[paged]
    firsts, owner, _ = runs(visit_of[rows])  # searches by visit
    seq_in_visit = np.arange(n) - firsts[owner]
    position_counts = np.where(paged, clicks, 0)
    ms = codec.epoch_ms_of
    latent_lo = _offsets(np.where(paged, results, 0))  # a short page: its shown ranks
    on_page = np.arange(page) < results[paged][:, None]
    table = [
        Column("search_id", "str", ids[rows]),
        Column("session_id", "str", session_ids[visit_of[rows]]),
        Column("user_id", "str", user_ids[visit_of[rows]]),
        Column("ts", "time", ms(ev["t"][rows])),
        Column("query", "text", queries),
        Column("edit", "text", edits.tolist()),
        Column("results", "int", results, null=gave_up),
        Column("clicks", "int", clicks),
        Column("clicked", "bool", clicks > 0),
        Column("p_click", "float", ev["p_any"][rows], null=gave_up, decimals=6),
        Column(
            "items",
            "strs",
            codec.items(ev["items"][paged_rows + 1][on_page]),  # on its results event
            null=~paged,
            offsets=latent_lo,
            omit=True,
        ),
        Column(
            "clicked_positions",
            "ints",
            _positions(ev, paged_rows, position_counts[paged]),
            null=~paged,
            offsets=_offsets(position_counts),
            omit=True,
        ),
    ]
    latent = [("examination", "exam"), ("attractiveness", "alpha")]
    if codec.has_satisfaction:
        latent.append(("satisfaction", "sat"))
    for name, column in latent:  # the page's latent values the click model used
        values = ev[column][paged_rows][on_page]
        table.append(Column(name, "floats", values, null=~paged, offsets=latent_lo, omit=True))
    table.append(Column("propensity", "float", ev["propensity"][rows], decimals=4))
    keys = _keys(v_tick[visit_of[rows]], ev["user"][rows], ev["seq"][rows], seq_in_visit)
    return table, n, keys


def _positions(ev: Events, paged_rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """1-based ranks of the clicks of each paged search (they follow its results event)."""
    return ev["rank"][ranges(paged_rows + 2, paged_rows + 2 + counts)] + 1
