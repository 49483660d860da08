"""Delivery's randomness, drawn with a batch of visit plans (the same point of the draw
sequence as always, so a seed gives the same stream)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from simulator.scenario import Delivery as DeliverySettings

__all__ = ["DeliveryDraws", "draw_delivery"]


@dataclass(slots=True)
class DeliveryDraws:
    """Delivery's randomness for a batch of visits: per event slot (``event_lo[i] + n``)
    the network delay and the uniforms that decide loss, duplicates and retries; per visit
    row the next outage and whether a killed app keeps its unflushed tail."""

    delay: np.ndarray
    loss_u: np.ndarray
    dup_u: np.ndarray
    dup_delay: np.ndarray
    retry_u: np.ndarray
    offline_gap: np.ndarray
    offline_len: np.ndarray
    tail_held: np.ndarray


def draw_delivery(
    rng: np.random.Generator, d: DeliverySettings, events: int, n: int
) -> DeliveryDraws:
    """Draw delivery's randomness for ``events`` event slots of ``n`` visit rows (a
    faultless scenario draws only the delays)."""
    delay = d.delay.sample(rng, events)
    faults = not d.perfect
    ones = np.ones(events)
    loss_u = rng.random(events) if faults else ones
    dup_u = rng.random(events) if faults else ones
    dup_delay = d.duplicates.delay.sample(rng, events) if faults else np.zeros(events)
    retry_u = rng.random(events) if faults else ones
    rate, tail = d.offline.rate_per_day, d.offline.unflushed_tail_prob
    offline_gap = rng.exponential(86400.0 / rate, n) if rate > 0 else np.full(n, np.inf)
    offline_len = d.offline.duration.sample(rng, n) if rate > 0 else np.zeros(n)
    tail_held = rng.random(n) < tail if tail > 0 else np.zeros(n, dtype=bool)
    return DeliveryDraws(
        delay, loss_u, dup_u, dup_delay, retry_u, offline_gap, offline_len, tail_held
    )
