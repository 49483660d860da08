"""The simulator as a Bytewax source: one partition per simulator shard.

Each partition simulates its own users (the shard's backend replicas, from their own seeded
streams) and emits their delivered events as sessionizer ``Event`` records, in the shard's
arrival order. The union over partitions is exactly the single-process stream; across
partitions, arrival order interleaves as the workers run. Use it to feed any Bytewax
dataflow a realistic stream::

    flow = Dataflow("load")
    events = op.input("sim", flow, SimulatorSource(load_scenario("million_users")))
"""

from __future__ import annotations

from collections.abc import Iterator

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from sessionizer import Event
from sessionsim.pipeline import sim_event_batches
from simulator import Ledger, Scenario, Simulation

__all__ = ["SimulatorSource"]


class _ShardPartition(StatefulSourcePartition):
    def __init__(self, scenario: Scenario, shard: int, shards: int) -> None:
        sim = Simulation(scenario, shard, shards)
        self._batches: Iterator[list[Event]] = sim_event_batches(sim, Ledger(sim.codec))

    def next_batch(self) -> list[Event]:
        return next(self._batches)  # StopIteration at the end of the simulated time

    def snapshot(self) -> None:
        return None  # a replay simulates again from the seed


class SimulatorSource(FixedPartitionedSource):
    """Partitions ``shard-0`` .. ``shard-N-1``: N shards (default: one per backend replica)."""

    def __init__(self, scenario: Scenario, shards: int | None = None) -> None:
        self.scenario = scenario
        self.shards = shards or scenario.backend.replicas
        Simulation(scenario, 0, self.shards)  # a bad shard count fails here, in one line

    def list_parts(self) -> list[str]:
        return [f"shard-{k}" for k in range(self.shards)]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _ShardPartition:
        return _ShardPartition(self.scenario, int(for_part.removeprefix("shard-")), self.shards)
