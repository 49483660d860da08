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
