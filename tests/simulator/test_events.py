"""The event codec: ISO times and opaque unique ids, rendered a batch at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simulator import Simulation
from simulator.text import iso_times
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario

CODEC = Simulation(load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 10})).codec
START = datetime(2026, 1, 5, tzinfo=UTC)


@given(st.lists(st.floats(min_value=0, max_value=400 * 86400, allow_nan=False), max_size=50))
def test_iso_matches_datetime_floored_to_milliseconds(times):
    rendered = iso_times(CODEC.epoch_ms_of(np.array(times, dtype=np.float64))).tolist()
    for t, text in zip(times, rendered, strict=True):
        expected = START + timedelta(milliseconds=int(t * 1000.0))
        assert text.decode() == expected.strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{expected.microsecond // 1000:03d}Z"
        )


@given(
    st.lists(
        st.tuples(st.integers(0, 2**24 - 1), st.integers(0, 2**20 - 1), st.integers(0, 2**16 - 1)),
        unique=True,
        max_size=200,
    )
)
def test_event_ids_are_unique_and_opaque(coords):
    ids = [CODEC.event_id(*c) for c in coords]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    # The vectorised ids are the same ids.
    columns = np.array(coords, dtype=np.int64).reshape(-1, 3).T
    assert CODEC.event_id_strings(*columns) == ids


def test_runs_that_differ_in_any_setting_share_no_event_or_user_id():
    """Ids are salted by the resolved scenario: loading two runs into one table never merges
    distinct events (issue 20: 26% of a 2k-user run's ids were in the 20k-user run)."""
    small = Simulation(load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 2000}))
    large = Simulation(load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 3000}))
    again = Simulation(load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 2000}))
    coords = (np.arange(2000), np.zeros(2000, int), np.arange(2000) % 7)
    ids = set(small.codec.event_ids(*coords).tolist())
    assert not ids & set(large.codec.event_ids(*coords).tolist())
    assert ids == set(again.codec.event_ids(*coords).tolist())  # one run stays reproducible
    users = np.arange(2000)
    assert not set(small.codec.user_ids(users).tolist()) & set(large.codec.user_ids(users).tolist())


def test_user_ids_are_opaque_not_a_count():
    ids = CODEC.user_ids(np.arange(10)).astype("U").tolist()
    assert len(set(ids)) == 10 and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert ids != sorted(ids)  # no order to read (a counter's ids sort by index)
