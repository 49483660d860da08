"""Delivery from devices to the collector, the way analytics SDKs send, on columns.

Each device queues its events and flushes the queue as one batch when it holds ``flush_at``
events, when the SDK's periodic timer fires (every ``flush_interval`` since the app
launched), and when the app closes or goes to the background; a request holds at most
``max_batch`` events. A request takes one network delay, and a device has one request in
flight (``parallel_requests`` > 1 allows more, so batches overtake each other): without
faults, a device's events reach the collector in the order they happened.

Faults are named: loss per event type, duplicate deliveries of an event (a beacon fired
again) or of a whole batch (a retry after a lost acknowledgement, which may land after
newer batches), outages (batches wait on the device until the connection returns), killed
apps (the unflushed queue goes out at the user's next launch), and clock skew.

Once per step the kernel's new events become columns (``Events``) and the SDK queues are
resolved for all of them at once: an event's timer period and its rank in that period's
queue decide its batch; a queue is flushed when full, when its period ends before the
visit's next search (the kernel's horizon: nothing else of the visit happens before it),
or when the app closes; what cannot be decided yet waits for the next step. Only the
device's channel (one request after another, outages) is a loop, one step per request.
Arrivals wait in buckets by step and are released in (arrival time, user, visit, event,
copy) order, so memory holds only events in flight.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.codes import APP_CLOSE, APP_OPEN, CLICK, EVENT_TYPES, RESULTS, SEARCH
from simulator.table import Events, concat, ranges, size, take
from simulator.text import splitmix64

if TYPE_CHECKING:
    from simulator.play import Kernel
    from simulator.population import Population
    from simulator.scenario import Scenario

__all__ = ["Sdk", "arrival_keys"]

MAX_COPIES = 10

# The kernel's records (``play.Opened``, ``Played``, ``Closed``) as structured arrays.
_OPENED = np.dtype(
    [("vid", "i8"), ("user", "i8"), ("seq", "i8"), ("t", "f8"), ("bid", "i8"), ("row", "i8"),
     ("draw", "i8")]
)  # fmt: skip
_PLAYED = np.dtype(
    [("vid", "i8"), ("user", "i8"), ("seq", "i8"), ("n", "i8"), ("t", "f8"), ("t_res", "f8"),
     ("bid", "i8"), ("s", "i8"), ("draw", "i8"), ("t0", "f8")]
)  # fmt: skip
_CLOSED = np.dtype(
    [("vid", "i8"), ("user", "i8"), ("seq", "i8"), ("n", "i8"), ("t", "f8"), ("bid", "i8"),
     ("row", "i8"), ("draw", "i8"), ("t0", "f8")]
)  # fmt: skip

# What an event carries while queued on its device (and then as an arrival), and what the
# ledger keeps of it until its visit's delivery is all known.
_SENT = ("vid", "user", "seq", "n", "kind", "sn", "query", "item", "rank", "shown", "items")
_QUEUED = (*_SENT, "t", "open", "stamped", "delay", "dup_u", "dup_delay", "retry_u")
_FATES = ("stamped", "received", "deliveries", "offline", "batch", "request")
_STORED = (
    "vid", "user", "seq", "n", "kind", "t", "sn", "query", "rank", "shown", "items",
    "clicks", "p_any", "gave_up", "propensity", "exam", "alpha", "sat", *_FATES,
)  # fmt: skip


class Sdk:
    """The devices' SDK queues, their upload channels and the collector's reorder buffer."""

    def __init__(self, scenario: Scenario, population: Population, tick_s: float) -> None:
        d = scenario.delivery
        self.tick_s = tick_s
        self.perfect = d.perfect
        self.skew = bool(d.clock_skew.offset_sd or d.clock_skew.drift_ppm_sd)
        loss, dup = d.loss.model_dump(), d.duplicates.prob.model_dump()
        self.loss = np.array([loss[k] for k in EVENT_TYPES])
        self.dup_p = np.array([dup[k] for k in EVENT_TYPES])
        self.log_dup_p = np.log(np.where(self.dup_p > 0, self.dup_p, 0.5))
        self.retry_p = d.duplicates.batch_retry_prob
        self.outages = d.offline.rate_per_day > 0
        self.offset, self.drift = population.clock_offset_s, population.clock_drift
        policies: dict[str, tuple[int, float, int]] = {
            name: (p.flush_at, p.flush_interval, p.max_batch) for name, p in d.sdk.items()
        }
        per_device = np.array([policies[platform] for platform, _ in population.devices])
        per_user = per_device[population.device]
        self.flush_at = per_user[:, 0].astype(np.int64)
        self.interval = per_user[:, 1].astype(np.float64)
        self.max_batch = per_user[:, 2].astype(np.int64).tolist()
        self.lanes = d.parallel_requests
        n = population.size
        self.free = [-math.inf] * n  # arrival of each device's last request (one lane)
        self.lane_free: dict[int, list[float]] = {}
        self.batches = [0] * n
        self.requests = [0] * n
        self.off_start = [math.inf] * n  # the current or next outage of each device
        self.off_end = [-math.inf] * n
        self.queued: Events = {}  # events in a device queue, not flushed yet
        self.held: dict[int, list[tuple[float, Events]]] = {}  # user -> (close, cached queue)
        self.store: Events = {}  # events of visits whose delivery is not all known yet
        self.waiting: set[int] = set()  # visits ended whose delivery is not all known yet
        self._buckets: dict[int, list[Events]] = defaultdict(list)
        self._released_tick = -1
        # visit id -> [user, visit number, launch, last event], until its truth is written
        self.visits: dict[int, list] = {}

    # -- columns of the kernel's events ------------------------------------------------

    def columns(self, kernel: Kernel) -> Events:
        """The kernel's new events as columns, with what each needs from its plan."""
        if not (kernel.opened or kernel.played or kernel.closes):
            return {}
        opened = np.array(kernel.opened, dtype=_OPENED).reshape(-1)
        played = np.array(kernel.played, dtype=_PLAYED).reshape(-1)
        closes = np.array(kernel.closes, dtype=_CLOSED).reshape(-1)
        click_t = np.array(kernel.click_times, dtype=np.float64)
        kernel.played, kernel.closes, kernel.click_times = [], [], []
        served = ~np.isnan(played["t_res"])
        lo = np.zeros(len(played), dtype=np.int64)  # the first click of each search
        clicks = np.zeros(len(played), dtype=np.int64)
        for b in np.unique(played["bid"]).tolist():
            at = np.flatnonzero(played["bid"] == b)
            click_lo = kernel.batches[b].click_lo_array
            s = played["s"][at]
            lo[at] = click_lo[s]
            clicks[at] = click_lo[s + 1] - click_lo[s]
        clicks *= served
        # Per search: the search, its results when served, then its clicks.
        per = 1 + served + clicks
        which = np.repeat(np.arange(len(played)), per)
        k = ranges(0, per)  # 0: the search, 1: its results, 2...: its clicks
        p = played[which]
        is_click = k >= 2
        kind = np.where(k == 0, SEARCH, np.where(k == 1, RESULTS, CLICK))
        t = np.where(k == 0, p["t"], p["t_res"])
        t[is_click] = click_t  # clicks come in played order
        m = len(opened) + len(which) + len(closes)
        cat = np.concatenate
        none, no = np.zeros(len(opened), dtype=np.int64), np.zeros(len(closes), dtype=np.int64)
        vid = cat([opened["vid"], p["vid"], closes["vid"]])
        n = cat([none, p["n"] + k, closes["n"]])
        kinds = cat([np.full(len(opened), APP_OPEN), kind, np.full(len(closes), APP_CLOSE)])
        bid = cat([opened["bid"], p["bid"], closes["bid"]])
        search = cat([none, p["s"], no])  # the search an event belongs to, in its batch
        click = cat([none, np.where(is_click, lo[which] + k - 2, 0), no])  # a click's index
        draw = cat([opened["draw"], p["draw"], closes["draw"]]) + n
        page = next(iter(kernel.batches.values())).items.shape[1] if kernel.batches else 0
        ev: Events = {
            "vid": vid,
            "user": cat([opened["user"], p["user"], closes["user"]]),
            "seq": cat([opened["seq"], p["seq"], closes["seq"]]),
            "n": n,
            "kind": kinds.astype(np.int8),
            "t": cat([opened["t"], t, closes["t"]]),
            "open": cat([opened["t"], p["t0"], closes["t0"]]),  # the visit's launch
            "sn": cat([none, p["n"], no]),
            "query": np.zeros(m, dtype=np.int64),
            "item": np.zeros(m, dtype=np.int64),
            "rank": np.zeros(m, dtype=np.int64),
            "shown": np.zeros(m, dtype=np.int64),  # items on a results page
            "items": np.zeros((m, page), dtype=np.int32),
            "clicks": cat([none, np.where(k == 0, clicks[which], 0), no]),  # on a search
            "p_any": np.zeros(m),
            "gave_up": cat([none, (k == 0) & ~served[which], no]).astype(bool),
            "propensity": np.zeros(m),
            "exam": np.zeros((m, page), dtype=np.float32),
            "alpha": np.zeros((m, page), dtype=np.float32),
            "sat": np.zeros((m, page), dtype=np.float32),
            "delay": np.zeros(m),
            "loss_u": np.ones(m),
            "dup_u": np.ones(m),
            "dup_delay": np.zeros(m),
            "retry_u": np.ones(m),
        }
        for b in np.unique(bid).tolist():
            at = np.flatnonzero(bid == b)
            self._fill(ev, at, kernel.batches[b], kinds[at], search[at], click[at], draw[at])
        return ev

    @staticmethod
    def _fill(
        ev: Events,
        at: np.ndarray,
        b: Any,
        kind: np.ndarray,
        search: np.ndarray,
        click: np.ndarray,
        draw: Any,
    ) -> None:
        """The plan's values of events ``at`` of batch ``b``: delivery draws, and per type
        the query and latent values (search), the page (results), the item (click)."""
        d = b.delivery
        for name, values in (
            ("delay", d.delay),
            ("loss_u", d.loss_u),
            ("dup_u", d.dup_u),
            ("dup_delay", d.dup_delay),
            ("retry_u", d.retry_u),
        ):
            ev[name][at] = values[draw]
        searching = kind == SEARCH
        s, q = at[searching], search[searching]
        ev["query"][s] = b.query[q]
        ev["p_any"][s] = b.p_any[q]
        ev["propensity"][s] = b.propensity[q]
        ev["exam"][s] = b.exam[q]
        ev["alpha"][s] = b.alpha[q]
        if b.sat is not None:
            ev["sat"][s] = b.sat[q]
        shown = kind == RESULTS
        r, q = at[shown], search[shown]
        ev["items"][r] = b.items[q]
        ev["shown"][r] = b.shown[q]
        clicked = kind == CLICK
        c = at[clicked]
        rank = b.click_rank[click[clicked]]
        ev["rank"][c] = rank
        ev["item"][c] = b.items[search[clicked], rank]

    # -- one step ---------------------------------------------------------------------

    def step(self, kernel: Kernel) -> list[int]:
        """Deliver what the kernel played since the last step; return the visits whose
        delivery became fully known (their rows are in ``store``)."""
        new = self.columns(kernel)
        opened = kernel.opened
        kernel.opened = []
        ended = kernel.ended
        kernel.ended = {}
        for vid, u, seq, t0, *_ in opened:
            self.visits[vid] = [u, seq, t0, t0]
        for vid, (_, last, _) in ended.items():
            self.visits[vid][3] = last
        if size(new):
            new.update(self._fates_of(new))
            if self.perfect:
                lost = np.zeros(size(new), dtype=bool)
            else:
                lost = new["loss_u"] < self.loss[new["kind"]]
            stored = {k: new[k] for k in _STORED}
            self.store = concat([self.store, stored]) if self.store else stored
            queued = {k: new[k][~lost] for k in _QUEUED}
            self.queued = concat([self.queued, queued]) if self.queued else queued
        flushing, flushes = self._batch(kernel.horizon, ended)
        self.waiting.update(ended)
        self._send(flushing, flushes, opened, kernel)
        kernel.forget()
        return self._complete()

    def _fates_of(self, ev: Events) -> Events:
        """Fate columns, unknown yet (a lost event's stay so: never sent)."""
        m = size(ev)
        t = ev["t"]
        stamped = t + self.offset[ev["user"]] + self.drift[ev["user"]] * t if self.skew else t
        return {
            "stamped": stamped,
            "received": np.full(m, np.nan),
            "deliveries": np.zeros(m, dtype=np.int64),
            "offline": np.zeros(m, dtype=bool),
            "batch": np.full(m, -1, dtype=np.int64),
            "request": np.full(m, -1, dtype=np.int64),
        }

    def _batch(self, horizon: dict[int, float], ended: dict) -> tuple[Events, list[tuple]]:
        """Resolve the queues: return the queued rows, sorted, and the flushes decided now
        as (user, time, 1, number, first row, end row) of them; keep what waits. Killed
        apps' tails go to ``held``."""
        q = self.queued
        if not size(q):
            return {}, []
        order = np.lexsort((q["n"], q["vid"]))
        q = take(q, order)
        vid, user, t = q["vid"], q["user"], q["t"]
        opens = q["open"]
        interval = self.interval[user]
        period = np.floor((t - opens) / interval)
        new_group = np.r_[True, (vid[1:] != vid[:-1]) | (period[1:] != period[:-1])]
        group = np.cumsum(new_group) - 1
        rank = np.arange(len(vid)) - np.flatnonzero(new_group)[group]
        chunk = rank // self.flush_at[user]
        new_chunk = np.r_[True, (group[1:] != group[:-1]) | (chunk[1:] != chunk[:-1])]
        lo = np.flatnonzero(new_chunk)
        hi = np.r_[lo[1:], len(vid)]
        chunk_user, chunk_vid = user[lo], vid[lo]
        full = (hi - lo) == self.flush_at[chunk_user]
        tick = opens[lo] + interval[lo] * (period[lo] + 1)
        # What bounds a queue's timer: the app's close, or the visit's next search.
        end = [ended.get(v) for v in chunk_vid.tolist()]
        closed = np.array([e is not None for e in end], dtype=bool)
        bound = np.array([e[0] if e is not None else horizon[v] for e, v in zip(end, chunk_vid)])
        killed = np.array([e is not None and e[2] for e in end], dtype=bool)
        timer = ~full & (tick <= bound)
        at_close = ~full & ~timer & closed & ~killed
        when = np.where(full, t[hi - 1], np.where(timer, tick, bound))
        flushed = full | timer | at_close
        for k in np.flatnonzero(~flushed & closed).tolist():  # a killed app's cached queue
            cached = (float(bound[k]), take(q, np.arange(lo[k], hi[k])))
            self.held.setdefault(int(chunk_user[k]), []).append(cached)
        waits = ~flushed & ~closed  # the period runs past the next search: it waits
        self.queued = take(q, np.repeat(waits, hi - lo))
        f = np.flatnonzero(flushed)
        return q, list(
            zip(
                chunk_user[f].tolist(),
                when[f].tolist(),
                [1] * len(f),
                range(len(f)),
                lo[f].tolist(),
                hi[f].tolist(),
            )
        )

    def _send(self, flushing: Events, flushes: list[tuple], opened: list, kernel: Kernel) -> None:
        """Send the flushes (of rows of ``flushing``) as requests, one device channel at a
        time, with the launches between them (a launch draws the next outage and sends a
        killed app's cache)."""
        actions = [(u, t0, 0, vid, row, bid) for vid, u, _, t0, bid, row, _ in opened]
        actions += flushes
        actions.sort()
        sources: list[Events] = [flushing]
        requests: list[tuple] = []  # (source, lo, hi, received, offline, batch, request, again)
        simple = self.lanes == 1 and not self.outages and self.perfect
        if size(flushing):
            delay = flushing["delay"].tolist()
        free, batches, numbers, max_batch = self.free, self.batches, self.requests, self.max_batch
        nan = math.nan
        for u, at, what, _, a, b in actions:
            if what == 0:  # a launch: a is its row, b its batch
                if self.outages and self.off_end[u] <= at:
                    d = kernel.batches[b].delivery
                    self.off_start[u] = at + float(d.offline_gap[a])
                    self.off_end[u] = self.off_start[u] + float(d.offline_len[a])
                for close, rows in self.held.pop(u, []):
                    if close >= at:  # cached after this launch: it waits for the next
                        self.held.setdefault(u, []).append((close, rows))
                        continue
                    sources.append(rows)
                    src = len(sources) - 1
                    self._requests(requests, src, rows, 0, size(rows), u, at, True)
                continue
            # The common case (one lane, no outage, no fault, one request) is ``_request``
            # written out: the call per request costs 10-15% of a faultless run.
            if simple and b - a <= max_batch[u]:
                f = free[u]
                received = (at if at > f else f) + delay[a]
                free[u] = received
                batches[u] += 1
                numbers[u] += 1
                requests.append((0, a, b, received, False, batches[u], numbers[u], nan))
            else:
                self._requests(requests, 0, sources[0], a, b, u, at, False)
        if requests:
            self._arrive(sources, requests)

    def _requests(
        self,
        out: list,
        src: int,
        source: Events,
        a: int,
        b: int,
        u: int,
        at: float,
        offline: bool,
    ) -> None:
        """One flush of a device's queue at ``at`` (rows ``a:b`` of ``source``, number
        ``src``): a request per ``max_batch`` events."""
        step = self.max_batch[u]
        for lo in range(a, b, step):
            out.append((src, lo, min(lo + step, b), *self._request(source, lo, u, at, offline)))

    def _request(self, rows: Events, first: int, u: int, at: float, offline: bool) -> tuple:
        """Put one request on the device's channel: when it arrives, its numbers."""
        if self.lanes == 1:
            start = max(at, self.free[u])
        else:
            lanes = self.lane_free.setdefault(u, [-math.inf] * self.lanes)
            lane = lanes.index(min(lanes))
            start = max(at, lanes[lane])
        if self.outages:
            if self.off_start[u] <= start < self.off_end[u]:
                start, offline = self.off_end[u], True
            elif self.off_start[u] <= at < self.off_end[u]:
                offline = True  # flushed in the outage: it waited behind the backlog
        received = start + float(rows["delay"][first])  # the batch takes its first event's
        if self.lanes == 1:
            self.free[u] = received
        else:
            lanes[lane] = received
        self.batches[u] += 1
        self.requests[u] += 1
        batch_no, request = self.batches[u], self.requests[u]
        again = math.nan
        if not self.perfect and float(rows["retry_u"][first]) < self.retry_p:
            self.requests[u] += 1
            again = received + float(rows["dup_delay"][first])
        return received, offline, batch_no, request, again

    def _arrive(self, sources: list[Events], requests: list[tuple]) -> None:
        """Record the requests' fates and queue every copy for release."""
        src, lo, hi, received, offline, batch_no, request, again = (
            np.array(c) for c in zip(*requests)
        )
        counts = hi - lo
        parts = []
        for k in np.unique(src).tolist():
            mine = np.flatnonzero(src == k)
            parts.append((mine, take(sources[k], ranges(lo[mine], hi[mine]))))
        order = np.concatenate([p[0] for p in parts])
        rows = concat([p[1] for p in parts])
        per_request = np.repeat(np.arange(len(counts))[order], counts[order])
        received = received.astype(np.float64)[per_request]
        again = again.astype(np.float64)[per_request]
        kind = rows["kind"]
        copies = np.zeros(size(rows), dtype=np.int64)
        if not self.perfect:
            dup_u = rows["dup_u"]
            dup = dup_u < self.dup_p[kind]
            many = np.log(np.where(dup, dup_u, 0.5)) / self.log_dup_p[kind]
            copies = np.where(dup, np.minimum(MAX_COPIES, many.astype(np.int64)), 0)
        retried = ~np.isnan(again)
        deliveries = 1 + copies + retried
        self._record(
            rows,
            received,
            offline.astype(bool)[per_request],
            deliveries,
            batch_no.astype(np.int64)[per_request],
            request.astype(np.int64)[per_request],
        )
        # Every copy: (arrival, copy number); duplicates come about dup_delay apart (each
        # gap jittered by a hash of the copy: 0.5 to 1.5 times), a retry last.
        which = np.repeat(np.arange(size(rows)), deliveries)
        copy = ranges(0, deliveries)
        bits = np.ascontiguousarray(rows["dup_u"][which]).view(np.uint64)
        jitter = 0.5 + (splitmix64(bits ^ copy.astype(np.uint64)) >> np.uint64(11)) / 2.0**53
        gap = np.where(copy > 0, rows["dup_delay"][which] * jitter, 0.0)
        elapsed = np.cumsum(gap)
        first_copy = np.concatenate(([0], np.cumsum(deliveries)))[:-1]
        elapsed -= np.repeat(elapsed[first_copy] if len(first_copy) else elapsed[:0], deliveries)
        arrival = received[which] + elapsed
        is_retry = (copy == deliveries[which] - 1) & retried[which]
        arrival = np.where(is_retry, again[which], arrival)
        out = {k: rows[k][which] for k in _SENT}
        out["ts"] = rows["stamped"][which]
        out["received"] = arrival
        out["copy"] = copy
        bucket = np.maximum(np.ceil(arrival / self.tick_s), self._released_tick + 1)
        for k in np.unique(bucket).tolist():
            self._buckets[int(k)].append(take(out, bucket == k))

    def _stored(self, rows: Events) -> np.ndarray:
        """Where ``rows`` (events of the store's visits) are in the store."""
        key = (self.store["vid"] << 20) | self.store["n"]
        order = np.argsort(key, kind="stable")
        return order[np.searchsorted(key[order], (rows["vid"] << 20) | rows["n"])]

    def _record(
        self,
        rows: Events,
        received: np.ndarray,
        offline: np.ndarray,
        deliveries: np.ndarray,
        batch_no: np.ndarray,
        request: np.ndarray,
    ) -> None:
        """Write the fates of sent events into the store."""
        store = self.store
        at = self._stored(rows)
        store["received"][at] = received
        store["offline"][at] = offline
        store["deliveries"][at] = deliveries
        store["batch"][at] = batch_no
        store["request"][at] = request

    def _complete(self) -> list[int]:
        """The visits ended whose every event has its fate (none queued or held)."""
        if not self.waiting:
            return []
        busy = set(self.queued["vid"].tolist()) if size(self.queued) else set()
        busy.update(int(rows["vid"][0]) for cached in self.held.values() for _, rows in cached)
        done = [v for v in self.waiting if v not in busy]
        self.waiting.difference_update(done)
        return done

    def unsent(self) -> list[int]:
        """End the run: queues still cached by killed apps are never delivered; return the
        visits that were waiting for them."""
        visits = []
        for user in sorted(self.held):
            for _, rows in self.held[user]:
                self.store["offline"][self._stored(rows)] = True
                visits.append(int(rows["vid"][0]))
        self.held.clear()
        self.waiting.difference_update(visits)
        return visits

    def take_visits(self, vids: list[int]) -> Events:
        """Remove the completed visits' events from the store and return them."""
        if not vids or not size(self.store):
            return {}
        mine = np.isin(self.store["vid"], np.array(vids, dtype=np.int64))
        out = take(self.store, mine)
        self.store = take(self.store, ~mine)
        return out

    def release(self, until: float) -> Events:
        """Every copy that has arrived by ``until``, in arrival order (then user, visit,
        event, copy)."""
        k = math.ceil(until / self.tick_s) if math.isfinite(until) else None
        if k is None:
            ready = [c for j in sorted(self._buckets) for c in self._buckets[j]]
            self._buckets.clear()
        else:
            ready = []
            for j in sorted(j for j in self._buckets if j <= k):
                ready += self._buckets.pop(j)
            self._released_tick = k
        out = concat(ready)
        if not size(out):
            return {}
        return take(out, np.lexsort((arrival_keys(out), out["received"])))


def arrival_keys(ev: Events) -> np.ndarray:
    """(user, visit, event, copy) packed into one integer: it orders equal arrival times
    the same way whatever the sharding."""
    return (ev["user"] << 40) | (ev["seq"] << 20) | (ev["n"] << 5) | ev["copy"]
