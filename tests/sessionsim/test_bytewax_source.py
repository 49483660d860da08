"""The simulator as a partitioned Bytewax source: the union of its shards is the stream."""

from __future__ import annotations

from collections import Counter

import pytest

from sessionsim.pipeline import sim_events
from simulator import Simulation
from simulator.truth import Ledger
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario

pytest.importorskip("bytewax")


@pytest.mark.parametrize("workers", [1, 2])
def test_the_union_over_partitions_is_the_single_process_stream(workers):
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, cluster_main

    from sessionsim.integrations.bytewax_source import SimulatorSource

    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {
            "population.users": 1500,
            "duration": "4h",
            "backend.replicas": 3,
            "delivery.duplicates": {"prob": {"click": 0.2}},
        },
    )
    sim = Simulation(sc)
    expected = Counter(sim_events(sim, Ledger(sim.codec)))
    assert len(expected) > 1000 and max(expected.values()) > 1  # repeated deliveries too

    got: list = []
    flow = Dataflow("sim")
    op.output("out", op.input("sim", flow, SimulatorSource(sc)), TestingSink(got))
    cluster_main(flow, [], 0, worker_count_per_proc=workers)
    assert Counter(got) == expected
