"""The truth files' rows as typed columns, built for a batch of finished visits at once.

``truth_tables`` turns the ledger's recorded visits (in their row order) into the columns
of ``truth/sessions``, ``truth/searches`` and ``truth/events`` (``text.Column``), with
each row's merge key for sharded runs: (tick, user, visit, row) as 28 hexadecimal digits
and a tab. Event ids and times are computed once per value, vectorised, and shared by the
rows that name them.
"""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from simulator.events import CLICK, EVENT_TYPES
from simulator.text import Column, hex_bytes

if TYPE_CHECKING:
    from simulator.events import EventCodec

__all__ = ["Table", "truth_tables"]

Table = tuple[list[Column], int, np.ndarray]  # columns, rows, merge keys
_KEY = np.dtype([("tick", ">u4"), ("user", ">u4"), ("visit", ">u4"), ("row", ">u2")])
_CODE = {kind: k for k, kind in enumerate(EVENT_TYPES)}
_TYPES = np.array([kind.encode() for kind in EVENT_TYPES])


def _keys(tick: np.ndarray, user: np.ndarray, visit: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Merge keys (``S29``: 28 hexadecimal digits and a tab): they sort as (tick, user,
    visit, row)."""
    k = np.empty(len(tick), dtype=_KEY)
    k["tick"], k["user"], k["visit"], k["row"] = tick, user, visit, row
    digits = hex_bytes(k.view(np.uint8).reshape(len(tick), _KEY.itemsize))
    return np.strings.add(digits, b"\t")


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def _repeat(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return np.repeat(values, counts)


def truth_tables(codec: EventCodec, ticks: list[int], visits: list[tuple]) -> list[Table]:
    """Return the sessions, searches and events tables of ``visits`` (the ledger's
    ``(user, visit, Visit, clicked searches, clicks)`` records, in row order), recorded at
    ``ticks``."""
    vs = [p[2] for p in visits]
    n_visits = len(vs)
    user = np.array([v.user for v in vs], dtype=np.int64)
    seq = np.array([v.visit for v in vs], dtype=np.int64)
    tick = np.array(ticks, dtype=np.int64)
    n_events = np.array([len(v.events) for v in vs], dtype=np.int64)
    n_searches = np.array([len(v.searches) for v in vs], dtype=np.int64)
    ev_lo = _offsets(n_events)

    # Per event: ids, sessions, times and fates.
    ev_user, ev_seq = _repeat(user, n_events), _repeat(seq, n_events)
    ev_n = np.arange(int(ev_lo[-1])) - _repeat(ev_lo[:-1], n_events)
    ids = codec.event_ids(ev_user, ev_seq, ev_n)
    user_ids = codec.user_ids(user)
    session_ids = np.strings.add(np.strings.add(user_ids, b".v"), seq.astype("S"))
    happened = list(chain.from_iterable(v.events for v in vs))
    # A route keeps room for the visit's longest layout: its first len(events) fates are set.
    fates = list(chain.from_iterable(v.route.fates[: len(v.events)] for v in vs))
    t, kind, *_ = zip(*happened)
    stamped, received, deliveries, offline, batch, request = zip(*fates)
    sent = np.array([r is not None for r in received])
    received_s = np.array([r if r is not None else np.nan for r in received], dtype=np.float64)
    t_s = np.array(t, dtype=np.float64)
    batch_no = np.array([b or 0 for b in batch], dtype=np.int64)
    request_no = np.array([r or 0 for r in request], dtype=np.int64)
    unsent = ~sent
    ms = codec.epoch_ms_of
    events_table: list[Column] = [
        Column("event_id", "str", ids),
        Column("session_id", "str", _repeat(session_ids, n_events)),
        Column("type", "str", _TYPES[[_CODE[k] for k in kind]]),
        Column("true_ts", "time", ms(t_s)),
        Column("ts", "time", ms(np.array(stamped, dtype=np.float64))),
        Column("deliveries", "int", np.array(deliveries, dtype=np.int64)),
        Column("received_at", "time", ms(np.where(sent, received_s, 0.0)), null=unsent),
        Column("delay_s", "float", np.where(sent, received_s - t_s, 0.0), null=unsent, decimals=3),
        Column("offline", "bool", np.array(offline, dtype=bool)),
        Column("batch", "int", batch_no, null=np.array([b is None for b in batch])),
        Column("request", "int", request_no, null=np.array([r is None for r in request])),
    ]
    events_keys = _keys(_repeat(tick, n_events), ev_user, ev_seq, ev_n)

    sessions_table: list[Column] = [
        Column("session_id", "str", session_ids),
        Column("user_id", "str", user_ids),
        Column("start", "time", ms(np.array([v.start_s for v in vs], dtype=np.float64))),
        Column("end", "time", ms(np.array([v.end_s for v in vs], dtype=np.float64))),
        Column("event_ids", "strs", ids, offsets=ev_lo),
        Column("searches", "int", n_searches),
        Column("clicked_searches", "int", np.array([p[3] for p in visits], dtype=np.int64)),
        Column("clicks", "int", np.array([p[4] for p in visits], dtype=np.int64)),
    ]
    sessions_keys = _keys(tick, user, seq, np.zeros(n_visits, dtype=np.int64))
    searches = _searches_table(codec, vs, ids, ev_lo, session_ids, user_ids, n_searches, tick)
    return [
        (sessions_table, n_visits, sessions_keys),
        searches,
        (events_table, len(ids), events_keys),
    ]


def _searches_table(
    codec: EventCodec,
    vs: list,
    ids: np.ndarray,
    ev_lo: np.ndarray,
    session_ids: np.ndarray,
    user_ids: np.ndarray,
    n_searches: np.ndarray,
    tick: np.ndarray,
) -> Table:
    """The searches table: one row per played search, with its page's latent values."""
    text = codec.vocabulary.text
    n = int(n_searches.sum())
    first_event = np.empty(n, dtype=np.int64)
    ts = np.empty(n, dtype=np.float64)
    queries: list[str] = []
    results = np.zeros(n, dtype=np.int64)
    gave_up = np.zeros(n, dtype=bool)
    clicks = np.zeros(n, dtype=np.int64)
    p_click = np.zeros(n, dtype=np.float64)
    shown_items: list = []
    positions: list[int] = []
    position_counts = np.zeros(n, dtype=np.int64)
    latent: list[tuple] = []
    propensity = np.empty(n, dtype=np.float64)
    has_sat = True
    s = 0
    for i, v in enumerate(vs):
        plan, events, base = v.plan, v.events, int(ev_lo[i])
        has_sat = has_sat and plan.sat is not None
        for sn, search_ts, q, shown, c, p, k in v.searches:
            first_event[s] = base + sn
            ts[s] = search_ts
            queries.append(text(q))
            clicks[s] = c
            propensity[s] = plan.propensity[k]
            if shown is None:
                gave_up[s] = True
            else:
                results[s] = shown
                p_click[s] = p
            if shown:
                page = plan.pages[k]
                shown_items.append(page)
                ranks = [e[5] + 1 for e in events[sn + 2 : sn + 2 + c] if e[1] == CLICK]
                positions += ranks
                position_counts[s] = len(ranks)
                latent.append((plan, k))
            s += 1
    paged = results > 0
    item_counts = np.zeros(n, dtype=np.int64)
    item_counts[paged] = [len(p) for p in shown_items]
    flat_items = np.array(list(chain.from_iterable(shown_items)), dtype=np.int64)
    exam = [plan.exam[k] for plan, k in latent]
    alpha = [plan.alpha[k] for plan, k in latent]
    sat = [plan.sat[k] for plan, k in latent] if has_sat else []
    latent_counts = np.zeros(n, dtype=np.int64)
    latent_counts[paged] = [len(e) for e in exam]
    latent_lo = _offsets(latent_counts)

    def floats(rows: list) -> np.ndarray:
        return np.concatenate(rows) if rows else np.zeros(0)

    row_user = np.repeat(np.arange(len(vs)), n_searches)
    visit_no = np.array([v.visit for v in vs], dtype=np.int64)
    user = np.array([v.user for v in vs], dtype=np.int64)
    seq_in_visit = np.arange(n) - np.repeat(_offsets(n_searches)[:-1], n_searches)
    ms = codec.epoch_ms_of
    table = [
        Column("search_id", "str", ids[first_event]),
        Column("session_id", "str", session_ids[row_user]),
        Column("user_id", "str", user_ids[row_user]),
        Column("ts", "time", ms(ts)),
        Column("query", "text", queries),
        Column("results", "int", results, null=gave_up),
        Column("clicks", "int", clicks),
        Column("clicked", "bool", clicks > 0),
        Column("p_click", "float", p_click, null=gave_up, decimals=6),
        Column(
            "items",
            "strs",
            codec.items(flat_items),
            null=~paged,
            offsets=_offsets(item_counts),
            omit=True,
        ),
        Column(
            "clicked_positions",
            "ints",
            np.array(positions, dtype=np.int64),
            null=~paged,
            offsets=_offsets(position_counts),
            omit=True,
        ),
        Column("examination", "floats", floats(exam), null=~paged, offsets=latent_lo, omit=True),
        Column(
            "attractiveness", "floats", floats(alpha), null=~paged, offsets=latent_lo, omit=True
        ),
    ]
    if has_sat:
        table.append(
            Column("satisfaction", "floats", floats(sat), null=~paged, offsets=latent_lo, omit=True)
        )
    table.append(Column("propensity", "float", propensity, decimals=4))
    keys = _keys(tick[row_user], user[row_user], visit_no[row_user], seq_in_visit)
    return table, n, keys
