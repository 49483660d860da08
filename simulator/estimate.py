"""How big a run will be, from the scenario's own rates, before it starts.

A pilot simulates up to 256 of the scenario's users for up to one day into a null sink (a
fraction of a second) and scales its events per user-day to the whole run; bytes and time
use figures measured on the bundled scenarios.
"""

from __future__ import annotations

from simulator.scenario import Scenario

__all__ = ["LIMIT_EVENTS", "estimate", "refuse_if_too_big"]

LIMIT_EVENTS = 200_000_000  # about 130 GB of JSON lines and most of an hour: ask for --force
BYTES_PER_EVENT = 650  # JSON lines: events.jsonl about 200, the truth files about 450
EVENTS_PER_S = 80_000  # simulate into JSON lines, one process, 50,000 users (sessionsim bench)
_PILOT_USERS, _PILOT_S = 256, 86_400.0


def estimate(scenario: Scenario) -> dict:
    """Return the expected ``events``, ``bytes`` and ``seconds`` of simulating ``scenario``."""
    from simulator.engine import simulate_null  # the engine imports this module's callers

    users = min(scenario.population.users, _PILOT_USERS)
    length = min(scenario.duration, _PILOT_S)
    pilot = scenario.model_copy(
        update={
            "population": scenario.population.model_copy(update={"users": users}),
            "duration": length,
            "backend": scenario.backend.model_copy(update={"replicas": 1}),
        }
    )
    per_user_s = simulate_null(pilot).events / (users * length)
    events = round(per_user_s * scenario.population.users * scenario.duration)
    return {
        "events": events,
        "bytes": events * BYTES_PER_EVENT,
        "seconds": events / EVENTS_PER_S,
    }


def refuse_if_too_big(scenario: Scenario, source: str, force: bool) -> dict | None:
    """Estimate a large-looking run; raise SimulatorError over the limit unless ``force``.

    Returns the estimate when it was made (for the caller to show), else None.
    """
    from simulator.errors import SimulatorError

    if scenario.population.users * scenario.duration < 50_000 * 86_400 and not force:
        return None  # at most 50,000 user-days: minutes at worst, no pilot needed
    guess = estimate(scenario)
    if guess["events"] > LIMIT_EVENTS and not force:
        raise SimulatorError(
            f"{source}: expected about {guess['events']:,} events "
            f"({guess['bytes'] / 1e9:,.0f} GB, about {guess['seconds'] / 3600:,.1f} h): over "
            f"the limit of {LIMIT_EVENTS:,}; pass --force to run it"
        )
    return guess
