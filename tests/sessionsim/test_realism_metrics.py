"""Realism metrics on synthetic inputs whose answer is known: each can fail."""

from __future__ import annotations

import numpy as np

from sessionsim.realism.metrics import _hour_steps

DAY = 86_400.0
MONDAY = 1767571200.0


def _starts(rate_at, days: int, seed: int) -> np.ndarray:
    """Poisson arrivals of the rate ``rate_at(t)`` (per second, vectorised) by thinning."""
    rng = np.random.default_rng(seed)
    top = rate_at(np.arange(0, days * DAY, 60.0)).max()
    t = np.cumsum(rng.exponential(1 / top, int(top * days * DAY * 1.2)))
    t = t[t < days * DAY]
    return MONDAY + t[rng.random(len(t)) < rate_at(t) / top]


def _profile(t: np.ndarray) -> np.ndarray:
    # Visits per second over a smooth day: about a 200k-user run's visit starts.
    return 3.0 + 2.5 * np.sin(2 * np.pi * t / DAY)


def test_a_smooth_rate_shows_no_jump_at_the_hour():
    value = _hour_steps(_starts(_profile, 3, 1), MONDAY, MONDAY + 3 * DAY)
    assert value is not None and value < 2.5


def test_a_rate_that_steps_at_each_hour_reads_a_jump():
    def stepped(t: np.ndarray) -> np.ndarray:
        return _profile(np.floor(t / 3600.0) * 3600.0 + 1800.0)  # constant per hour

    value = _hour_steps(_starts(stepped, 3, 1), MONDAY, MONDAY + 3 * DAY)
    assert value is not None and value > 2.5
