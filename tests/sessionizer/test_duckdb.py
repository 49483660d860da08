"""DuckDB's SQL: the reference's sessions when nothing is late, and its own CTR agrees."""

from __future__ import annotations

import pytest

from sessionizer import (
    CtrTotals,
    GapSessionizer,
    Session,
    SessionConfig,
    read_events,
    searches_of,
)
from simulator import simulate_to_dir
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario

duckdb_engine = pytest.importorskip("sessionizer.duckdb_engine")

# Every fault that repeats or reorders, and search ids for the id attribution.
FAULTY = {
    "population.users": 400,
    "duration": "8h",
    "emit_search_id": True,
    "delivery.duplicates": {"prob": {"click": 0.2}, "batch_retry_prob": 0.1},
    "delivery.clock_skew": {"offset_sd": "20s"},
}


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("duckdb_run")
    sc = load_scenario(SCENARIOS / "baseline.yaml", FAULTY)
    simulate_to_dir(sc, out / "jsonl")
    simulate_to_dir(sc, out / "parquet", fmt="parquet")
    return out


def _events(run):
    with open(run / "jsonl" / "events.jsonl", "rb") as f:
        return list(read_events(f, "events.jsonl"))


def _key(sessions):
    return [(s.user_id, s.start, s.end, [tuple(e) for e in s.events]) for s in sessions]


CONFIGS = [
    SessionConfig(gap_ms=1_800_000, lateness_ms=10**12),
    SessionConfig(
        gap_ms=60_000, lateness_ms=10**12, split_on_app_open=True, attribution="search_id"
    ),
    SessionConfig(gap_ms=300_000, lateness_ms=10**12, close_on_app_close=True, dedup=False),
]


@pytest.mark.parametrize("config", CONFIGS, ids=["30m", "1m-open-id", "5m-close-nodedup"])
def test_same_sessions_as_the_reference_and_the_sqls_ctr_is_the_metrics(faulty_run, config):
    events = _events(faulty_run)
    reference = GapSessionizer(config)
    expected = list(reference.sessionize(iter(events)))  # a huge lateness: nothing is late
    assert reference.counts.late == 0 and reference.counts.duplicates > 0 or not config.dedup
    sz = duckdb_engine.DuckDBSessionizer(config, ctr=True)
    got = list(sz.sessionize(iter(events)))
    assert _key(got) == _key(expected)  # same sessions, same order of output
    assert (sz.counts.accepted, sz.counts.duplicates) == (
        reference.counts.accepted,
        reference.counts.duplicates,
    )
    totals = CtrTotals()
    for s in got:
        totals.add(searches_of(s.events, config.attribution))
    assert totals.searches > 100
    assert sz.metrics == {
        "searches": totals.searches,
        "clicked_searches": totals.clicked_searches,
        "clicks": totals.clicks,
        "ctr": totals.ctr,
        "zero_result_searches": totals.zero_result_searches,
        "abandoned_searches": totals.abandoned_searches,
    }


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_reads_the_events_file_itself(faulty_run, fmt):
    config = CONFIGS[0]
    expected = _key(duckdb_engine.DuckDBSessionizer(config).sessionize(iter(_events(faulty_run))))
    sz = duckdb_engine.DuckDBSessionizer(config, threads=2)
    got = [s for c in sz.sessionize_file(faulty_run / fmt / f"events.{fmt}") for s in c.sessions()]
    assert all(isinstance(s, Session) for s in got) and _key(got) == expected


def test_an_unreadable_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "events.jsonl"
    bad.write_text('{"event_id": 1, "ts": "not a time"}\n')
    sz = duckdb_engine.DuckDBSessionizer(CONFIGS[0])
    with pytest.raises(duckdb_engine.SessionizerError, match="events.jsonl: duckdb cannot read"):
        list(sz.sessionize_file(bad))
