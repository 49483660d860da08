"""The event records and their JSON codec (the contract in docs/semantics.md section 1).

Inside the simulator arrived events are columns (``sdk.Events``): times are float seconds
from the scenario start (``received``; ``ts``, the device's stamp); ``user``, ``seq`` (the
user's visit number) and ``n`` (the event within its visit) name an event; ``kind`` is the
type's code; ``query`` (on a search), ``items`` and ``shown`` (on results: the page, and how
many of it were shown), ``item`` and ``rank`` (0-based, on a click) are the payload; ``sn``
is the ``n`` of the search the event belongs to; ``copy`` numbers repeated deliveries (0:
the first). Text is made from those columns, a batch at a time (``text``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from simulator.clients import client_table
from simulator.codes import APP_OPEN, CLICK, EVENT_TYPES, RESULTS, SEARCH
from simulator.scenario import resolved_yaml
from simulator.text import Column, hex_ids, json_lines, splitmix64
from simulator.vocabulary import item_ids

if TYPE_CHECKING:
    from simulator.population import Population
    from simulator.scenario import Scenario
    from simulator.table import Events
    from simulator.vocabulary import Vocabulary

__all__ = ["TYPE_NAMES", "EventCodec"]

TYPE_NAMES = np.array([kind.encode() for kind in EVENT_TYPES])  # the schema's, by type code
_M64 = (1 << 64) - 1
DAY_S = 86_400.0
_USER_SALT = 0x5EC5_1005_1D5A_17ED  # user ids and event ids are salted apart


def run_salt(scenario: Scenario) -> int:
    """A 64-bit salt of the resolved scenario: event and user ids are unique to the run it
    describes (two runs that differ in any setting share no id), and the same scenario
    always gives the same ids."""
    digest = hashlib.blake2b(resolved_yaml(scenario).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


T = TypeVar("T")


class EventCodec:
    """Turn arrived events (columns) into the event schema's typed columns and JSON lines;
    owns event ids, user and item ids, and times."""

    def __init__(self, scenario: Scenario, population: Population, vocabulary: Vocabulary) -> None:
        self.population = population
        self.vocabulary = vocabulary
        self.emit_search_id = scenario.emit_search_id
        self.has_satisfaction = scenario.clicks.model == "dbn"  # the model's latent values
        self.start_ms = round(scenario.start.timestamp() * 1000)
        self._salt = run_salt(scenario)
        # Opaque user ids: a bijection of the user's index, salted by the run (no order, no
        # count to read from them).
        users = np.arange(population.size, dtype=np.uint64)
        self._user_ids = hex_ids(splitmix64(users ^ np.uint64(self._salt ^ _USER_SALT)))
        platforms = sorted({p for p, _ in population.devices})
        self._platforms = tuple(platforms)
        self._platform = np.array([platforms.index(p) for p, _ in population.devices])
        self._clients = client_table(self.start_ms / 1000.0 + scenario.duration + DAY_S)
        self._countries = tuple(n[-2:] for n in population.locale_names)

    def event_id(self, user: int, visit: int, n: int) -> str:
        """Return an opaque id, unique in the run (splitmix64, a bijection, of the event's
        coordinates salted by the run)."""
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

    def event_id_strings(self, user: np.ndarray, visit: np.ndarray, n: np.ndarray) -> list[str]:
        """``event_id`` of many events at once, as ``str``."""
        return self.event_ids(user, visit, n).astype("U16").tolist()

    def user_ids(self, users: np.ndarray) -> np.ndarray:
        """``user_id`` of many users at once (an ``S`` array)."""
        return self._user_ids[np.asarray(users, dtype=np.int64)]

    def items(self, items: np.ndarray) -> np.ndarray:
        """Opaque catalogue item ids of many items at once (an ``S12`` array)."""
        return item_ids(items, self.vocabulary.salt)

    def epoch_ms_of(self, t_s: np.ndarray) -> np.ndarray:
        """Sim times as epoch milliseconds (truncated toward zero)."""
        return self.start_ms + (np.asarray(t_s, dtype=np.float64) * 1000.0).astype(np.int64)

    def columns(self, ev: Events) -> list[Column]:
        """Return arrivals (``sdk.Events``) as the event schema's typed columns, in the
        order of the schema (absent fields are nulls, left out of JSON)."""
        code = ev["kind"].astype(np.int64)
        users, visits = ev["user"], ev["seq"]
        pop = self.population
        search, results = code == SEARCH, code == RESULTS
        click, opening = code == CLICK, code == APP_OPEN
        queries: list[str] = [""] * len(code)
        texts = self.vocabulary.texts(ev["query"][search])
        for i, text in zip(np.flatnonzero(search).tolist(), texts, strict=True):
            queries[i] = text
        shown = np.where(results, ev["shown"], 0)
        offsets = np.concatenate(([0], np.cumsum(shown)))
        width = ev["items"].shape[1] if ev["items"].ndim == 2 else 0
        flat = ev["items"][np.arange(width) < shown[:, None]] if width else np.zeros(0, int)
        device = pop.device[users]
        # What a client reports changes as its user updates: read at the app_open's time.
        client = np.zeros(len(code), dtype=np.int64)
        version = np.zeros(len(code), dtype=np.int64)
        if opening.any():
            when_s = self.start_ms / 1000.0 + ev["ts"][opening]
            u = users[opening]
            client[opening] = self._clients.at(device[opening], when_s - pop.os_lag_s[u])
            version[opening] = pop.app_version_at(u, when_s)
        cols = [
            Column("event_id", "str", self.event_ids(users, visits, ev["n"])),
            Column("type", "str", TYPE_NAMES[code]),
            Column("user_id", "str", self.user_ids(users)),
            Column("ts", "time", self.epoch_ms_of(ev["ts"])),
            Column("received_at", "time", self.epoch_ms_of(ev["received"])),
            Column("query", "text", queries, null=~search, omit=True),
            Column("items", "strs", self.items(flat), null=~results, offsets=offsets, omit=True),
            Column("item", "str", self.items(ev["item"]), null=~click, omit=True),
            Column("position", "int", ev["rank"] + 1, null=~click, omit=True),
            Column(
                "platform", "enum", self._platform[device], ~opening, None, True, 4, self._platforms
            ),
            Column("device", "enum", client, ~opening, None, True, 4, self._clients.strings),
            Column(
                "app_version",
                "enum",
                version,
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
                    self.event_ids(users, visits, ev["sn"]),
                    null=~(search | results | click),
                    omit=True,
                )
            )
        return cols

    def lines(self, ev: Events) -> tuple[list[str], list[bytes], list[int], list[bytes]]:
        """Each arrival's event id, user id, arrival time (epoch ms) and JSON line."""
        columns = self.columns(ev)
        ids = columns[0].values.astype("U16").tolist()  # type: ignore[union-attr]
        users = columns[2].values.tolist()  # type: ignore[union-attr]
        received = columns[4].values.tolist()  # type: ignore[union-attr]
        return ids, users, received, json_lines(columns, len(ids))

    def records(
        self,
        ev: Events,
        make: Callable[..., T],
    ) -> list[T]:
        """Decode arrivals into the event schema's fields, built by ``make`` in this order:
        event_id, type, user_id, ts (epoch ms, floored as ``iso``), search_id (when the
        scenario emits it), items (how many were shown, on results), position (1-based, on
        clicks).

        The in-process twin of ``columns``: the same fields, without the JSON.
        """
        if not ev or not len(ev["kind"]):
            return []
        code = ev["kind"].astype(np.int64)
        users, visits = ev["user"], ev["seq"]
        ids = self.event_ids(users, visits, ev["n"]).astype("U16").tolist()
        kinds = [EVENT_TYPES[k] for k in code.tolist()]
        user_ids = self.user_ids(users).astype("U").tolist()
        ts = self.epoch_ms_of(ev["ts"]).tolist()
        has_search = (code == SEARCH) | (code == RESULTS) | (code == CLICK)
        search_ids: list[str | None] = [None] * len(ids)
        if self.emit_search_id:
            sids = self.event_ids(users, visits, ev["sn"]).astype("U16").tolist()
            for i in np.flatnonzero(has_search).tolist():
                search_ids[i] = sids[i]
        items = np.where(code == RESULTS, ev["shown"], -1).tolist()
        positions = np.where(code == CLICK, ev["rank"] + 1, -1).tolist()
        return [
            make(e, k, u, t, s, None if c < 0 else c, None if p < 0 else p)
            for e, k, u, t, s, c, p in zip(ids, kinds, user_ids, ts, search_ids, items, positions)
        ]
