"""The kernel: visits played out in time order, one step per search (the backend's queue).

A visit's only contact with other users is the shared search backend, whose FCFS queue
decides each search's latency and so shifts the rest of the visit. The kernel keeps a heap
of what is due (an arrival, a user's return, a visit's next search) and plays each in time
order up to a horizon (``run_until``); the engine's SimPy clock calls it once per step, so
SimPy orders the steps and the kernel the backend interactions within one. Everything
between two searches (results, clicks with their scan and dwell times) is emitted at once;
each search is one tuple (``Played``; its clicks' times are floats in ``click_times``),
turned into the events' columns by the delivery stage once per step.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

from simulator.codes import MIN_STEP_S
from simulator.query_plan import REPEAT, Typed, relabel_new
from simulator.query_text import EDIT_SHIFT
from simulator.streams import GROUP

if TYPE_CHECKING:
    from simulator.backend import SearchBackend
    from simulator.plan import VisitBatch
    from simulator.population import Population

__all__ = ["Closed", "Kernel", "Opened", "Played"]

# A visit that began: (visit id, user, visit number, launch time, batch id, row, the
# delivery draw index of its first event).
Opened = tuple[int, int, int, float, int, int, int]

# A played search: (visit id, user, visit number, n of its search event, its time, its
# results' time (nan: the user gave up), batch id, search index, draw index of the visit's
# first event, its launch time). Its clicks' times follow, in order, in ``click_times``.
Played = tuple[int, int, int, int, float, float, int, int, int, float]

# A visit's app_close event: (visit id, user, visit number, n, time, batch id, row, draw,
# launch time).
Closed = tuple[int, int, int, int, float, int, int, int, float]

_ARRIVE, _RETURN, _SEARCH = 0, 1, 2


class Kernel:
    """The users' shared state (backend replicas, who is in the app) and the visits in play.

    After each ``run_until``, ``opened``, ``played``, ``click_times``, ``closes``,
    ``horizon`` (visit id -> the time of its next search: nothing else of it happens
    before) and ``ended`` (visit id -> (close time, last event time, killed app)) hold what
    that step produced; the caller takes them.
    """

    def __init__(
        self,
        backends: list[SearchBackend],
        population: Population,
        min_visit_gap_s: float,
        end_s: float,
        typed: Typed | None = None,
    ) -> None:
        """``typed`` (if any) is told each search as it is played: a visit's first search
        labelled a repeat of nothing the user typed is labelled new."""
        self.backends = backends
        self.typed = typed
        self.patience = population.patience_s.tolist()
        self.min_gap = max(min_visit_gap_s, MIN_STEP_S)
        self.end_s = end_s
        self.left_s = population.left_s.tolist()  # a user who has left returns no more
        self.free_at = [-math.inf] * population.size  # when each user's last visit ended
        self.visit_count = [0] * population.size
        self.batches: dict[int, VisitBatch] = {}
        self._heap: list[tuple] = []
        self._order = 0  # ties at one time are taken in the order they were scheduled
        self._next_vid = 0
        self.active = 0  # visits being played
        self.waiting = 0  # follow-up visits scheduled but not started
        self.dropped = 0
        self.closed = False  # the run was stopped: no further visit starts
        self.opened: list[Opened] = []
        self.played: list[Played] = []
        self.click_times: list[float] = []
        self.closes: list[Closed] = []
        self.horizon: dict[int, float] = {}
        self.ended: dict[int, tuple[float, float, bool]] = {}
        self._rows_left: dict[int, int] = {}  # batch id -> rows not yet done with
        self.retired: list[int] = []

    @property
    def busy(self) -> bool:
        """True while a visit is being played or a follow-up visit is due."""
        return bool(self.active or self.waiting)

    def add_batch(self, bid: int, batch: VisitBatch, arrivals: list[tuple[int, float]]) -> None:
        """Schedule the arrivals ``(row, time)`` of ``batch`` (id ``bid``)."""
        self.batches[bid] = batch
        self._rows_left[bid] = len(arrivals)
        for row, t in arrivals:
            self._push(t, _ARRIVE, (bid, row))

    def _push(self, t: float, kind: int, what: object) -> None:
        heapq.heappush(self._heap, (t, self._order, kind, what))
        self._order += 1

    def next_time(self) -> float:
        """When the next scheduled step is due (inf: none)."""
        return self._heap[0][0] if self._heap else math.inf

    def run_until(self, until: float) -> None:
        """Play every step due before ``until``."""
        heap, pop = self._heap, heapq.heappop
        while heap and heap[0][0] < until:
            t, _, kind, what = pop(heap)
            if kind == _SEARCH:
                self._search(what, t)
            elif kind == _ARRIVE:
                self._start(what[0], what[1], t)
            else:
                self.waiting -= 1
                self._start(what[0], what[1], t)

    def stop(self) -> None:
        """No visit starts from now on; follow-ups already due are dropped as they come."""
        self.closed = True

    def _done_with_row(self, bid: int) -> None:
        left = self._rows_left[bid] - 1
        if left:
            self._rows_left[bid] = left
        else:
            del self._rows_left[bid]
            self.retired.append(bid)  # forgotten once its events are taken (``forget``)

    def forget(self) -> None:
        """Drop the batches no row of which is still to play."""
        for bid in self.retired:
            del self.batches[bid]
        self.retired.clear()

    def _start(self, bid: int, row: int, t: float) -> None:
        """Begin visit ``row`` of batch ``bid`` at ``t`` (an arrival or a return)."""
        b = self.batches[bid]
        u = b.user[row]
        if self.closed or self.free_at[u] + self.min_gap > t:
            if not self.closed:
                self.dropped += 1  # the user is still in (or just left) the app
            self._done_with_row(bid)
            return
        seq = self.visit_count[u]
        self.visit_count[u] = seq + 1
        vid = self._next_vid
        self._next_vid += 1
        draw = b.event_lo[row]
        self.opened.append((vid, u, seq, t, bid, row, draw))
        s = b.search_lo[row]
        state = [vid, bid, row, u, seq, t, s, 1, False, draw]
        if s == b.search_lo[row + 1]:
            self._finish(state, t, t)
            return
        self.free_at[u] = math.inf
        self.active += 1
        t_next = t + b.after_none[s]
        self.horizon[vid] = t_next
        self._push(t_next, _SEARCH, state)

    def _search(self, state: list, t: float) -> None:
        """Play one search of a visit at ``t``: the backend, then its results and clicks."""
        vid, bid, row, u, seq, t0, s, n, _, draw = state
        b = self.batches[bid]
        backend = self.backends[u // GROUP % len(self.backends)]  # a sticky load balancer
        done = backend.submit(t, b.service[s], self.patience[u])
        typed = self.typed
        if typed is not None:
            query = int(b.query[s])
            if query >> EDIT_SHIFT == REPEAT and not typed.has(u, query):
                b.query[s] = relabel_new(query)  # its source was never played
            typed.remember(u, query)
        if done is None:  # gave up waiting: no results, no click
            self.played.append((vid, u, seq, n, t, math.nan, bid, s, draw, t0))
            last = t
            t += self.patience[u]
            state[7] = n + 1
            state[8] = False
        else:
            search_t = t
            arrive = done + b.round_trip[s]  # the results reach the device
            t = last = arrive if arrive > t + MIN_STEP_S else t + MIN_STEP_S
            self.played.append((vid, u, seq, n, search_t, t, bid, s, draw, t0))
            c0, c1 = b.click_lo[s], b.click_lo[s + 1]
            if c1 > c0:
                gaps, times = b.click_gap, self.click_times
                for c in range(c0, c1):
                    t += gaps[c]
                    times.append(t)
                last = t
            state[7] = n + 2 + c1 - c0
            state[8] = c1 > c0
        s += 1
        state[6] = s
        if s == b.search_lo[row + 1]:
            self.active -= 1
            self._finish(state, t, last)
            return
        t += b.after_click[s] if state[8] else b.after_none[s]
        self.horizon[vid] = t
        self._push(t, _SEARCH, state)

    def _finish(self, state: list, t: float, last: float) -> None:
        """Close the visit after its last action at ``t`` (``last``: its last event's time)."""
        vid, bid, row, u, seq, t0, _, n, _, draw = state
        b = self.batches[bid]
        t += b.close_after[row]
        if not b.silent[row]:
            self.closes.append((vid, u, seq, n, t, bid, row, draw, t0))
            last = t
        self.horizon.pop(vid, None)
        self.ended[vid] = (t, last, b.tail_held[row])
        self.free_at[u] = t
        j = b.follow[row]
        back = t + b.return_gap[row]
        if j >= 0 and back < self.end_s and back < self.left_s[u] and not self.closed:
            self.waiting += 1
            self._rows_left[bid] += 1
            self._push(back, _RETURN, (bid, j))
        self._done_with_row(bid)
