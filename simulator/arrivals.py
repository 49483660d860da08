"""Visit arrivals: a non-homogeneous Poisson process per user with a smooth daily profile.

User u's rate at an instant is ``visits_per_day[u] * f(t) / 3600``, where ``f`` runs straight
between the midpoints of the user's local hours: at the middle of local hour h it is
``hourly[h] / sum(hourly) * weekday[d] / mean(weekday)`` (d: that hour's local weekday), so
the rate has no step at any hour or at midnight. Local hours are UTC plus a multiple of half
an hour, so every local midpoint falls on a UTC half hour: in each half-hour chunk the rate
is linear, its integral is exact and arrival times are drawn from the linear density.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHUNK_S", "chunks", "expected_visits", "intensity", "visit_arrivals"]

CHUNK_S = 1800.0


def chunks(
    start_epoch_s: float, duration_s: float, cuts: tuple[float, ...] = ()
) -> list[tuple[float, float]]:
    """Split the run into UTC-half-hour-aligned chunks, also cut at ``cuts`` (offsets from
    start). Return (offset from start, length) pairs; the rate is linear inside each chunk.
    """
    out = []
    t = 0.0
    inside = sorted(c for c in cuts if 0.0 < c < duration_s)
    while t < duration_s:
        boundary = (np.floor((start_epoch_s + t) / CHUNK_S) + 1) * CHUNK_S - start_epoch_s
        end = min([boundary, duration_s, *(c for c in inside if c > t)])
        out.append((t, end - t))
        t = end
    return out


def _at_midpoint(hour: np.ndarray, hourly: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """The profile at the middle of local hour ``hour`` (hours since the epoch, local)."""
    day = ((np.floor(hour / 24.0) + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday
    return hourly[(hour % 24).astype(np.int64)] / hourly.sum() * weekday[day] / weekday.mean()


def intensity(
    visits_per_day: np.ndarray,
    utc_offset_h: np.ndarray,
    epoch_s: float,
    hourly: np.ndarray,
    weekday: np.ndarray,
) -> np.ndarray:
    """Each user's visit rate (per second) at the instant ``epoch_s``."""
    x = (epoch_s + utc_offset_h * 3600.0) / 3600.0 - 0.5  # hours past a local midpoint
    h = np.floor(x)
    frac = x - h
    f = (1.0 - frac) * _at_midpoint(h, hourly, weekday) + frac * _at_midpoint(
        h + 1.0, hourly, weekday
    )
    return visits_per_day * f / 3600.0


def expected_visits(
    visits_per_day: np.ndarray,
    utc_offset_h: np.ndarray,
    start_epoch_s: float,
    length_s: float,
    hourly: np.ndarray,
    weekday: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's rate at the start and at the end of a chunk (per second); the expected
    number of arrivals in it is their mean times ``length_s``."""
    return (
        intensity(visits_per_day, utc_offset_h, start_epoch_s, hourly, weekday),
        intensity(visits_per_day, utc_offset_h, start_epoch_s + length_s, hourly, weekday),
    )


def visit_arrivals(
    rng: np.random.Generator,
    rates: tuple[np.ndarray, np.ndarray],
    chunk_start_s: float,
    length_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the chunk's arrivals of a rate linear from ``rates[0]`` to ``rates[1]``; return
    (member index, start time) sorted by time."""
    r0, r1 = rates
    counts = rng.poisson((r0 + r1) / 2.0 * length_s)
    members = np.repeat(np.arange(len(r0)), counts)
    u = rng.random(len(members))
    a, b = r0[members], r1[members]
    # Inverse CDF of the density a + (b - a) x on [0, 1]: x = (sqrt(a² + (b² - a²) u) - a)
    # / (b - a), written so that it stays exact as b approaches a.
    x = np.divide(
        2.0 * u * (a + b) / 2.0,
        a + np.sqrt(a * a + (b * b - a * a) * u),
        out=u.copy(),
        where=(a + b) > 0,
    )
    times = chunk_start_s + x * length_s
    order = np.argsort(times, kind="stable")
    return members[order], times[order]
