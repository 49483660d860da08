"""A live run's load shape over wall time: steps and ramps of a target event rate.

A scenario's ``load:`` section lists stages, as Locust's load shapes do::

    load:
      - {at: 0s, rate: 1000}            # 1,000 events/s from the start
      - {at: 2m, rate: 5000, ramp: 1m}  # then up to 5,000 events/s, linearly over a minute

The population is sized for the first stage's rate (as ``--rate`` does), and each later
stretch becomes an arrival burst of the scenario (``arrivals.bursts``) whose factor is its
rate over the first one, placed at its simulated time (wall time times ``--speed``): the
arrival process itself follows the shape. A ramp is a staircase of ``RAMP_STEPS`` steps.
"""

from __future__ import annotations

from pydantic import Field

from simulator import Duration, Model

__all__ = ["RAMP_STEPS", "LoadStage", "bursts_of", "target_at"]

RAMP_STEPS = 10


class LoadStage(Model):
    """From ``at`` (wall time since the start), aim at ``rate`` events per wall second,
    reached linearly over ``ramp`` from the previous stage's rate."""

    at: Duration
    rate: float = Field(gt=0.0)
    ramp: Duration = "0s"


def target_at(stages: list[LoadStage], wall_s: float) -> float:
    """The target rate at ``wall_s`` seconds into the run."""
    rate = stages[0].rate
    for stage in stages[1:]:
        if wall_s < stage.at:
            break
        if stage.ramp and wall_s < stage.at + stage.ramp:
            return rate + (stage.rate - rate) * (wall_s - stage.at) / stage.ramp
        rate = stage.rate
    return rate


def _steps(stages: list[LoadStage]) -> list[tuple[float, float]]:
    """The shape as (wall start, rate) steps, ramps as staircases."""
    steps = [(0.0, stages[0].rate)]
    for stage in stages[1:]:
        before = steps[-1][1]
        if stage.ramp:
            for k in range(1, RAMP_STEPS + 1):
                t = stage.at + stage.ramp * (k - 1) / RAMP_STEPS
                steps.append((t, before + (stage.rate - before) * k / RAMP_STEPS))
        else:
            steps.append((stage.at, stage.rate))
    return steps


def bursts_of(stages: list[LoadStage], speed: float, duration_s: float) -> list[dict]:
    """Arrival bursts (simulated time) that give the shape, relative to the first rate."""
    base = stages[0].rate
    steps = _steps(stages)
    bursts = []
    for (t, rate), nxt in zip(steps, [*steps[1:], (duration_s / speed, 0.0)]):
        start, end = t * speed, min(nxt[0] * speed, duration_s)
        if rate != base and end > start:
            if not 0 < rate / base <= 1000:
                raise ValueError(f"a rate over 1000 times the first ({rate:g} / {base:g})")
            bursts.append({"at": start, "length": end - start, "factor": rate / base})
    return bursts
