"""Visit arrivals: a non-homogeneous Poisson process per user, piecewise constant by hour.

The rate of user u in a UTC hour is ``visits_per_day[u] * hourly[h] / sum(hourly) *
weekday[d] / mean(weekday)``, where h and d are the hour and weekday in the user's local time
at the middle of that hour. Hours are aligned to UTC so the rate is constant in each chunk.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHUNK_S", "chunks", "expected_visits", "visit_arrivals"]

CHUNK_S = 3600.0


def chunks(
    start_epoch_s: float, duration_s: float, cuts: tuple[float, ...] = ()
) -> list[tuple[float, float]]:
    """Split the run into UTC-hour-aligned chunks, also cut at ``cuts`` (offsets from start).

    Return (offset from start, length) pairs; the rate is constant inside each chunk.
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


def expected_visits(
    visits_per_day: np.ndarray,
    utc_offset_h: np.ndarray,
    mid_epoch_s: float,
    length_s: float,
    hourly: np.ndarray,
    weekday: np.ndarray,
) -> np.ndarray:
    """Return each user's expected number of visit arrivals in one chunk."""
    local_s = mid_epoch_s + utc_offset_h * 3600.0
    hour = (np.floor(local_s / 3600.0) % 24).astype(np.int64)
    day = ((np.floor(local_s / 86400.0) + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday
    hourly_share = hourly / hourly.sum()
    day_factor = weekday / weekday.mean()
    return visits_per_day * hourly_share[hour] * day_factor[day] * (length_s / 3600.0)


def visit_arrivals(
    rng: np.random.Generator, expected: np.ndarray, chunk_start_s: float, length_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the chunk's arrivals; return (member index, start time) sorted by time."""
    counts = rng.poisson(expected)
    members = np.repeat(np.arange(len(expected)), counts)
    times = chunk_start_s + rng.random(len(members)) * length_s
    order = np.argsort(times, kind="stable")
    return members[order], times[order]
