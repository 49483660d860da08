"""The event records and their JSON codec (the contract in SESSIONS.md section 1).

Inside the simulator an event is a tuple, cheap to build:
``(received_s, key, ts_s, type, user, visit, n, payload, search_n, rank, copy)``: times are
float seconds from the scenario start; ``n`` numbers the event within its visit; ``payload``
is the query index on a search, the tuple of item ids shown on results (empty: zero
results) and the clicked item id on a click; ``search_n`` is the ``n`` of the search the
event belongs to; ``rank`` is the 0-based clicked rank; ``copy`` numbers repeated deliveries
(0: the first); ``key`` packs (user, visit, n, copy) into one int that orders equal arrival
times. Strings exist only when a sink encodes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import chain
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from simulator.text import Column, hex_ids, json_lines, padded_numbers, splitmix64

if TYPE_CHECKING:
    from simulator.population import Population
    from simulator.scenario import Scenario
    from simulator.vocabulary import Vocabulary

__all__ = ["APP_CLOSE", "APP_OPEN", "CLICK", "EVENT_TYPES", "RESULTS", "SEARCH", "EventCodec"]

APP_OPEN = "app_open"
SEARCH = "search"
RESULTS = "results"
CLICK = "click"
APP_CLOSE = "app_close"
EVENT_TYPES = (APP_OPEN, SEARCH, RESULTS, CLICK, APP_CLOSE)

_HAS_SEARCH = frozenset({SEARCH, RESULTS, CLICK})
_CODE = {kind: k for k, kind in enumerate(EVENT_TYPES)}
_TYPE_NAMES = np.array([kind.encode() for kind in EVENT_TYPES])
_M64 = (1 << 64) - 1
T = TypeVar("T")
_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))


class EventCodec:
    """Turn event tuples into JSON lines; owns event ids and ISO times."""

    def __init__(self, scenario: Scenario, population: Population, vocabulary: Vocabulary) -> None:
        self.population = population
        self.vocabulary = vocabulary
        self.emit_search_id = scenario.emit_search_id
        self._item_width = len(str(scenario.queries.catalog - 1))
        self.start_ms = round(scenario.start.timestamp() * 1000)
        self._salt = (scenario.seed * 0x9E3779B97F4A7C15) & _M64
        self._seconds: dict[int, str] = {}
        self._items: dict[int, str] = {}
        self._user_ids = padded_numbers(np.arange(population.size), 7, b"u")
        if population.size > 10**7:  # wider ids: each rendered as user_id renders it
            self._user_ids = np.array(
                [population.user_id(u).encode() for u in range(population.size)]
            )
        platforms = sorted({p for p, _ in population.devices})
        self._platforms = tuple(platforms)
        self._platform = np.array([platforms.index(p) for p, _ in population.devices])
        self._devices = tuple(d for _, d in population.devices)
        self._countries = tuple(n[-2:] for n in population.locale_names)

    def event_id(self, user: int, visit: int, n: int) -> str:
        """Return an opaque, unique id (splitmix64 of the event's coordinates)."""
        z = ((user << 36) | (visit << 16) | n) ^ self._salt
        z = (z + 0x9E3779B97F4A7C15) & _M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return f"{z ^ (z >> 31):016x}"

    def event_ids(self, user: np.ndarray, visit: np.ndarray, n: np.ndarray) -> np.ndarray:
        """``event_id`` of many events at once (a ``S16`` array)."""
        coords = (
            (np.asarray(user, dtype=np.uint64) << np.uint64(36))
            | (np.asarray(visit, dtype=np.uint64) << np.uint64(16))
            | np.asarray(n, dtype=np.uint64)
        )
        return hex_ids(splitmix64(coords ^ np.uint64(self._salt)))

    def user_ids(self, users: np.ndarray) -> np.ndarray:
        """``user_id`` of many users at once (an ``S`` array)."""
        return self._user_ids[np.asarray(users, dtype=np.int64)]

    def items(self, items: np.ndarray) -> np.ndarray:
        """Catalog item ids of many items at once (an ``S`` array)."""
        return padded_numbers(items, self._item_width, b"it")

    def epoch_ms_of(self, t_s: np.ndarray) -> np.ndarray:
        """Sim times as epoch milliseconds (truncated, as ``epoch_ms``)."""
        return self.start_ms + (np.asarray(t_s, dtype=np.float64) * 1000.0).astype(np.int64)

    def item(self, i: int) -> str:
        """Return catalog item ``i``'s id (popular items repeat: their ids are cached)."""
        text = self._items.get(i)
        if text is None:
            if len(self._items) > 1_000_000:
                self._items.clear()
            text = self._items[i] = f"it{i:0{self._item_width}d}"
        return text

    def epoch_ms(self, t_s: float) -> int:
        """Return sim time ``t_s`` as epoch milliseconds (truncated, as ``iso``)."""
        return self.start_ms + int(t_s * 1000.0)

    def iso(self, t_s: float) -> str:
        """Return sim time ``t_s`` as ISO 8601 UTC with milliseconds (truncated)."""
        sec, ms = divmod(self.start_ms + int(t_s * 1000.0), 1000)
        prefix = self._seconds.get(sec)
        if prefix is None:
            if len(self._seconds) > 200_000:  # times cluster near sim time: a small cache
                self._seconds.clear()
            prefix = self._seconds[sec] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return prefix + _MILLIS[ms]

    def to_dict(self, rec: tuple, time=None) -> dict:
        """Return the JSON object of one event tuple (times by ``time``, default ISO)."""
        received, _, ts, kind, u, visit, n, payload, sn, rank, _ = rec
        pop = self.population
        time = time or self.iso
        d = {
            "event_id": self.event_id(u, visit, n),
            "type": kind,
            "user_id": pop.user_id(u),
            "ts": time(ts),
            "received_at": time(received),
        }
        if kind == SEARCH:
            d["query"] = self.vocabulary.text(payload)
        elif kind == RESULTS:
            item = self.item
            d["items"] = [item(i) for i in payload]
        elif kind == CLICK:
            d["item"] = self.item(payload)
            d["position"] = rank + 1
        elif kind == APP_OPEN:
            platform, device = pop.devices[pop.device[u]]
            d["platform"] = platform
            d["device"] = device
            d["app_version"] = pop.app_versions[pop.app_version[u]]
            d["country"] = pop.country(u)
        if self.emit_search_id and kind in _HAS_SEARCH:
            d["search_id"] = self.event_id(u, visit, sn)
        return d

    def records(
        self,
        batch: list[tuple],
        make: Callable[..., T],
        first: Callable[[str, int, int], None] | None = None,
    ) -> list[T]:
        """Decode arrivals into the event schema's fields, built by ``make`` in this order:
        event_id, type, user_id, ts (epoch ms, floored as ``iso``), search_id (when the
        scenario emits it), items (how many were shown, on results), position (1-based, on
        clicks). ``first(event_id, user, visit)`` sees each event's first delivery.

        The in-process twin of ``to_dict``: the same fields, without the JSON.
        """
        event_id, user_id, start_ms = self.event_id, self.population.user_id, self.start_ms
        with_search_id = self.emit_search_id
        out = []
        for _, _, ts, kind, u, visit, n, payload, sn, rank, copy in batch:
            eid = event_id(u, visit, n)
            if first is not None and not copy:
                first(eid, u, visit)
            out.append(
                make(  # by position: keywords double the cost of this per-event call
                    eid,
                    kind,
                    user_id(u),
                    start_ms + int(ts * 1000.0),
                    event_id(u, visit, sn) if with_search_id and kind in _HAS_SEARCH else None,
                    len(payload) if kind == RESULTS else None,
                    rank + 1 if kind == CLICK else None,
                )
            )
        return out

    def to_row(self, rec: tuple) -> dict:
        """Return one event tuple as a row of typed columns (times in epoch ms)."""
        return self.to_dict(rec, self.epoch_ms)

    def columns(self, records: list[tuple]) -> list[Column]:
        """Return a batch of event tuples as the event schema's typed columns, in the order
        ``to_dict`` writes them (absent fields are nulls, left out of JSON)."""
        received, _, ts, kind, u, visit, n, payload, sn, rank, _ = zip(*records)
        code = np.array([_CODE[k] for k in kind], dtype=np.int64)
        users = np.array(u, dtype=np.int64)
        visits = np.array(visit, dtype=np.int64)
        pop = self.population
        search, results = code == _CODE[SEARCH], code == _CODE[RESULTS]
        click, opening = code == _CODE[CLICK], code == _CODE[APP_OPEN]
        text = self.vocabulary.text
        queries: list[str] = [""] * len(records)
        for i in np.flatnonzero(search).tolist():
            queries[i] = text(payload[i])
        shown = [payload[i] for i in np.flatnonzero(results).tolist()]
        offsets = np.zeros(len(records) + 1, dtype=np.int64)
        offsets[1:][results] = [len(p) for p in shown]
        offsets = np.cumsum(offsets)
        flat = np.array(list(chain.from_iterable(shown)), dtype=np.int64)
        clicked = np.zeros(len(records), dtype=np.int64)
        at = np.flatnonzero(click)
        clicked[at] = [payload[i] for i in at.tolist()]
        device = pop.device[users]
        cols = [
            Column("event_id", "str", self.event_ids(users, visits, np.array(n))),
            Column("type", "str", _TYPE_NAMES[code]),
            Column("user_id", "str", self.user_ids(users)),
            Column("ts", "time", self.epoch_ms_of(np.array(ts))),
            Column("received_at", "time", self.epoch_ms_of(np.array(received))),
            Column("query", "text", queries, null=~search, omit=True),
            Column("items", "strs", self.items(flat), null=~results, offsets=offsets, omit=True),
            Column("item", "str", self.items(clicked), null=~click, omit=True),
            Column("position", "int", np.array(rank) + 1, null=~click, omit=True),
            Column(
                "platform", "enum", self._platform[device], ~opening, None, True, 4, self._platforms
            ),
            Column("device", "enum", device, ~opening, None, True, 4, self._devices),
            Column(
                "app_version",
                "enum",
                pop.app_version[users],
                ~opening,
                None,
                True,
                4,
                pop.app_versions,
            ),
            Column("country", "enum", pop.locale[users], ~opening, None, True, 4, self._countries),
        ]
        if self.emit_search_id:
            cols.append(
                Column(
                    "search_id",
                    "str",
                    self.event_ids(users, visits, np.array(sn)),
                    null=~(search | results | click),
                    omit=True,
                )
            )
        return cols

    def encode(self, records: list[tuple], keys: np.ndarray | None = None) -> bytes:
        """Return the JSON lines of a batch of event tuples (each after its key in ``keys``,
        when given)."""
        if not records:
            return b""
        return b"".join(json_lines(self.columns(records), len(records), keys))
