"""A progress bar on stderr for simulated time: only on a terminal, after the first second."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

__all__ = ["bar", "sim_progress"]


def bar(total: float, label: str, unit: str) -> tqdm:
    """A bar on stderr, drawn only on a terminal and only after the first second."""
    return tqdm(
        total=total,
        desc=label,
        unit=unit,
        unit_scale=True,
        file=sys.stderr,
        delay=1.0,
        leave=False,
        dynamic_ncols=True,
        disable=None,  # no bar when stderr is not a terminal (CI logs, pipes)
    )


@contextmanager
def sim_progress(
    duration_s: float, label: str = "simulating"
) -> Iterator[Callable[[float, int], None]]:
    """Yield a callback ``(sim_s, events)`` that advances a bar over simulated seconds."""
    shown = bar(round(duration_s), label, "sim-s")
    started = time.perf_counter()
    last = [0.0]

    def update(sim_s: float, events: int) -> None:
        now = time.perf_counter()
        if now - last[0] < 0.2 or now - started < 1.0:  # never drawn for sub-second work
            return
        last[0] = now
        shown.n = min(round(sim_s), shown.total)
        shown.set_postfix_str(f"{events / max(now - started, 1e-9):,.0f} events/s", refresh=False)
        shown.refresh()

    try:
        yield update
    finally:
        shown.close()
