"""Visit arrivals follow the diurnal and weekday profile (chi-square) and are Poisson."""

from __future__ import annotations

import numpy as np
from scipy import stats

from simulator.arrivals import chunks, expected_visits, visit_arrivals

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
    for j, (t0, length) in enumerate(chunks(start, hours * 3600.0)):
        expected = expected_visits(vpd, offsets, start + t0 + length / 2, length, HOURLY, WEEKDAY)
        _, times = visit_arrivals(rng, expected, t0, length)
        assert np.all((times >= t0) & (times < t0 + length))
        counts[j] = len(times)
    return counts


def test_hourly_counts_follow_local_diurnal_profile():
    rng = np.random.default_rng(1)
    users = 20_000
    vpd = rng.lognormal(np.log(1.5), 1.0, users)
    offsets = np.where(np.arange(users) % 3 == 0, 9.0, -5.0)  # Tokyo and New York
    counts = _hourly_counts(rng, vpd, offsets, MONDAY, 24)
    # The expectation, from the profile directly: user u in UTC hour h is in local hour
    # h + offset.
    # Monday UTC is Sunday evening in New York until 05:00 UTC: weekday weight 1.5 / mean.
    day_factor = WEEKDAY / WEEKDAY.mean()
    ny = np.array([day_factor[6] if h < 5 else day_factor[0] for h in range(24)])
    tokyo = np.full(24, day_factor[0])
    expected = np.array(
        [
            vpd[offsets == 9.0].sum() * HOURLY[(h + 9) % 24] / HOURLY.sum() * tokyo[h]
            + vpd[offsets == -5.0].sum() * HOURLY[(h - 5) % 24] / HOURLY.sum() * ny[h]
            for h in range(24)
        ]
    )
    chi2 = stats.chisquare(counts, expected * counts.sum() / expected.sum())
    assert chi2.pvalue > 1e-3, (counts, expected)
    # The total is Poisson with the expected mean: within 4 sigma.
    assert abs(counts.sum() - expected.sum()) < 4 * np.sqrt(expected.sum())


def test_flat_profile_would_be_rejected():
    """The chi-square test has power: a flat expectation is rejected on the same counts."""
    rng = np.random.default_rng(1)
    vpd = np.full(20_000, 1.5)
    counts = _hourly_counts(rng, vpd, np.zeros(20_000), MONDAY, 24)
    flat = np.full(24, counts.sum() / 24)
    assert stats.chisquare(counts, flat).pvalue < 1e-6


def test_chunks_align_to_utc_hours_and_cut_at_bursts():
    start = MONDAY + 1800.0  # 00:30
    parts = chunks(start, 3 * 3600.0, cuts=(2400.0,))
    assert parts == [
        (0.0, 1800.0),
        (1800.0, 600.0),
        (2400.0, 3000.0),
        (5400.0, 3600.0),
        (9000.0, 1800.0),
    ]
