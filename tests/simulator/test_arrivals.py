"""Visit arrivals follow the diurnal and weekday profile (chi-square) and are Poisson."""

from __future__ import annotations

import numpy as np
from scipy import stats

from simulator.arrivals import chunks, expected_visits, intensity, visit_arrivals

HOURLY = np.array(
    [
        0.3,
        0.2,
        0.15,
        0.1,
        0.1,
        0.2,
        0.5,
        0.9,
        1.2,
        1.2,
        1.1,
        1.1,
        1.3,
        1.2,
        1.0,
        1.0,
        1.1,
        1.3,
        1.5,
        1.7,
        1.8,
        1.6,
        1.1,
        0.6,
    ]
)
WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.5, 1.5])
MONDAY = 1767571200.0  # 2026-01-05T00:00:00Z


def _hourly_counts(rng, vpd, offsets, start, hours):
    counts = np.zeros(hours)
    for t0, length in chunks(start, hours * 3600.0):
        rates = expected_visits(vpd, offsets, start + t0, length, HOURLY, WEEKDAY)
        _, times = visit_arrivals(rng, rates, t0, length)
        assert np.all((times >= t0) & (times < t0 + length))
        counts[int(t0 // 3600.0)] += len(times)
    return counts


def test_hourly_counts_follow_the_smooth_local_profile():
    rng = np.random.default_rng(1)
    users = 20_000
    vpd = rng.lognormal(np.log(1.5), 1.0, users)
    offsets = np.where(np.arange(users) % 3 == 0, 9.0, -5.0)  # Tokyo and New York
    counts = _hourly_counts(rng, vpd, offsets, MONDAY, 24)
    day_factor = WEEKDAY / WEEKDAY.mean()

    def f(k: int) -> float:
        """The profile at the middle of local hour k, counted from Monday 00:00 local
        (negative: Sunday, weekday weight 1.5 / mean)."""
        return HOURLY[k % 24] / HOURLY.sum() * day_factor[(k // 24) % 7]

    def hour_share(k: int) -> float:
        """The rate runs straight between local hour midpoints, so local hour k holds
        (f(k-1) + 6 f(k) + f(k+1)) / 8 per unit rate: the integral of that line."""
        return (f(k - 1) + 6 * f(k) + f(k + 1)) / 8

    # UTC hour h is local hour h + 9 in Tokyo and h - 5 in New York.
    expected = np.array(
        [
            vpd[offsets == 9.0].sum() * hour_share(h + 9)
            + vpd[offsets == -5.0].sum() * hour_share(h - 5)
            for h in range(24)
        ]
    )
    chi2 = stats.chisquare(counts, expected * counts.sum() / expected.sum())
    assert chi2.pvalue > 1e-3, (counts, expected)
    # The total is Poisson with the expected mean: within 4 sigma.
    assert abs(counts.sum() - expected.sum()) < 4 * np.sqrt(expected.sum())


def test_the_rate_has_no_step_at_the_hour_or_at_midnight():
    vpd, off = np.array([2.0, 2.0]), np.array([0.0, 5.5])
    for t in MONDAY + 3600.0 * np.arange(0, 48, 0.5):  # every UTC hour and half hour
        before = intensity(vpd, off, t - 1e-3, HOURLY, WEEKDAY)
        after = intensity(vpd, off, t + 1e-3, HOURLY, WEEKDAY)
        assert np.allclose(before, after, rtol=1e-4)
    # Saturday's weight arrives over the hour around midnight, not at once.
    saturday = MONDAY + 5 * 86_400.0
    ramp = [intensity(vpd[:1], off[:1], saturday + dt, HOURLY, WEEKDAY)[0] for dt in (-1, 1)]
    assert ramp[1] / ramp[0] < 1.01


def test_arrival_times_follow_the_linear_rate_within_a_chunk():
    """A chunk whose rate rises from 1 to 3: the arrivals' mean position is 7/12 of it (the
    centroid of the trapezoid), within 4 sigma; the count is Poisson with mean 2 per unit."""
    rng = np.random.default_rng(3)
    n = 200_000
    _, times = visit_arrivals(rng, (np.full(n, 1.0), np.full(n, 3.0)), 0.0, 1.0)
    assert abs(len(times) - 2 * n) < 4 * np.sqrt(2 * n)
    sd = np.sqrt(5 / 12 - (7 / 12) ** 2)  # density (1 + 2x) / 2: E[x²] = 5/12
    assert abs(times.mean() - 7 / 12) < 4 * sd / np.sqrt(len(times))


def test_flat_profile_would_be_rejected():
    """The chi-square test has power: a flat expectation is rejected on the same counts."""
    rng = np.random.default_rng(1)
    vpd = np.full(20_000, 1.5)
    counts = _hourly_counts(rng, vpd, np.zeros(20_000), MONDAY, 24)
    flat = np.full(24, counts.sum() / 24)
    assert stats.chisquare(counts, flat).pvalue < 1e-6


def test_chunks_align_to_utc_half_hours_and_cut_at_bursts():
    start = MONDAY + 1800.0  # 00:30
    parts = chunks(start, 3 * 3600.0, cuts=(2400.0,))
    assert parts == [
        (0.0, 1800.0),
        (1800.0, 600.0),
        (2400.0, 1200.0),
        (3600.0, 1800.0),
        (5400.0, 1800.0),
        (7200.0, 1800.0),
        (9000.0, 1800.0),
    ]
