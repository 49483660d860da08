"""The simulator: search-app users in SimPy, their events, and the ground truth."""

from simulator.engine import Simulation, simulate_null, simulate_to_dir
from simulator.errors import SimulatorError
from simulator.scenario import Scenario, load_scenario, resolved_yaml

__all__ = [
    "Scenario",
    "Simulation",
    "SimulatorError",
    "load_scenario",
    "resolved_yaml",
    "simulate_null",
    "simulate_to_dir",
]
