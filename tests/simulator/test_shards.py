"""Process shards: the same bytes for any number of processes, and clear limits."""

from __future__ import annotations

import pytest

from simulator import simulate_to_dir
from simulator.shards import simulate_sharded
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, one_line_error, run_cli

FILES = (
    "events.jsonl",
    "truth/sessions.jsonl",
    "truth/searches.jsonl",
    "truth/events.jsonl",
    "truth/summary.json",
    "scenario.yaml",
)

pytestmark = pytest.mark.slow  # end-to-end simulations
# Three cohorts of users over four replicas; every fault that reorders, repeats or holds.
SHARDED = {
    "population.users": 9000,
    "duration": "3h",
    "backend.replicas": 4,
    "delivery.loss": {"click": 0.05},
    "delivery.duplicates": {"prob": {"click": 0.2}, "batch_retry_prob": 0.1},
    "delivery.offline": {"rate_per_day": 6, "unflushed_tail_prob": 0.3},
    "delivery.clock_skew": {"offset_sd": "20s"},
    "delivery.parallel_requests": 2,
}


def test_the_bundled_baseline_shards_over_8_processes_into_the_bytes_of_one(tmp_path):
    """2,000 users are 8 replica groups: every process has users, the bytes are one's."""
    sc = load_scenario(SCENARIOS / "baseline.yaml", {"duration": "4h"})
    one = simulate_to_dir(sc, tmp_path / "one")
    eight = simulate_sharded(sc, tmp_path / "n8", 8)
    assert eight == one and one.events > 1000
    for name in FILES:
        assert (tmp_path / "n8" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_parquet_shards_merge_to_the_rows_of_one_process(tmp_path):
    """Sharded Parquet: the same rows in the same order as one process (row groups may
    differ), with every fault that reorders, repeats or holds."""
    import pyarrow.parquet as pq

    sc = load_scenario(SCENARIOS / "baseline.yaml", {**SHARDED, "population.users": 3000})
    one = simulate_to_dir(sc, tmp_path / "one", fmt="parquet")
    three = simulate_sharded(sc, tmp_path / "n3", 3, fmt="parquet")
    assert three == one
    for name in ("events", "truth/sessions", "truth/searches", "truth/events"):
        a = pq.read_table(tmp_path / "one" / f"{name}.parquet")
        b = pq.read_table(tmp_path / "n3" / f"{name}.parquet")
        assert a.num_rows > 100 and a.equals(b), name


def test_shards_merge_to_the_bytes_of_one_process(tmp_path):
    sc = load_scenario(SCENARIOS / "baseline.yaml", SHARDED)
    one = simulate_to_dir(sc, tmp_path / "one")
    assert one.duplicate_deliveries > 0 and one.unsent_events > 0
    for n in (2, 3):
        summary = simulate_sharded(sc, tmp_path / f"n{n}", n)
        assert summary == one
        for name in FILES:
            assert (tmp_path / f"n{n}" / name).read_bytes() == (
                tmp_path / "one" / name
            ).read_bytes(), (n, name)
        assert not list((tmp_path / f"n{n}").glob(".shards-*"))  # the shards' files are gone


@pytest.mark.parametrize(
    "flags, needle",
    [
        (("--processes", "9"), "backend.replicas (8)"),
        (("--processes", "9", "--format", "parquet"), "backend.replicas (8)"),
    ],
)
def test_bad_process_counts_are_one_line_exit_2(tmp_path, capsys, monkeypatch, flags, needle):
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "simulate",
        str(SCENARIOS / "baseline.yaml"),
        "--users",
        "50",
        "--out",
        str(tmp_path / "out"),
        *flags,
    )
    assert code == 2
    assert needle in one_line_error(err)


def test_run_with_two_processes_gives_the_reports_and_files_of_one(tmp_path):
    from sessionsim.pipeline import run_scenario
    from sessionsim.scenario import RunScenario

    sessionizers = [
        {"sessionizer": "reference", "gap": "30m", "lateness": "2m", "label": "ref"},
        {"sessionizer": "vectorized", "gap": "5m", "lateness": "0s", "label": "vec"},
    ]
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {**SHARDED, "population.users": 3000, "sessionizers": sessionizers},
        model=RunScenario,
    )
    one = run_scenario(sc, tmp_path / "one", realism=False)
    two = run_scenario(sc, tmp_path / "two", realism=False, processes=2)
    assert one == two and one[0].late_events < one[1].late_events
    for name in (*FILES, "sessions.ref.jsonl", "sessions.vec.late.jsonl", "report.vec.json"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    assert run_scenario(sc, None, realism=False, processes=2) == one  # in a temporary directory
