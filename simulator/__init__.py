"""The simulator: search-app users in SimPy, their events, and the ground truth.

This is the package's public face: the harness (``sessionsim``) imports only these names.
"""

from simulator.backend import LatencyHistogram
from simulator.distributions import Duration, Model, PositiveDuration
from simulator.durations import format_duration, parse_duration
from simulator.engine import (
    FORMATS,
    Simulation,
    open_outputs,
    simulate_null,
    simulate_to_dir,
    write_summary,
)
from simulator.errors import SimulatorError
from simulator.estimate import estimate, refuse_if_too_big
from simulator.events import EventCodec
from simulator.naive import simulate_naive
from simulator.orphans import die_with_parent
from simulator.output import (
    AtomicFile,
    EventSink,
    JsonlRows,
    NullSink,
    OutputSet,
    committed_files,
)
from simulator.rundir import prepare_dir
from simulator.scenario import Burst, Scenario, load_scenario, resolved_yaml
from simulator.shards import simulate_sharded
from simulator.summary import Summary, encode_summary
from simulator.truth import Ledger

__all__ = [
    "FORMATS",
    "AtomicFile",
    "Burst",
    "Duration",
    "EventCodec",
    "EventSink",
    "JsonlRows",
    "LatencyHistogram",
    "Ledger",
    "Model",
    "NullSink",
    "OutputSet",
    "PositiveDuration",
    "Scenario",
    "Simulation",
    "Summary",
    "SimulatorError",
    "committed_files",
    "die_with_parent",
    "encode_summary",
    "estimate",
    "format_duration",
    "load_scenario",
    "open_outputs",
    "parse_duration",
    "prepare_dir",
    "refuse_if_too_big",
    "resolved_yaml",
    "simulate_naive",
    "simulate_null",
    "simulate_sharded",
    "simulate_to_dir",
    "write_summary",
]
