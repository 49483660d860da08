"""Duration distributions and trait spreads used in scenario files; each samples in batches."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from simulator.durations import DURATION_PATTERN, format_duration, parse_duration

__all__ = [
    "Constant",
    "Duration",
    "DurationDist",
    "Exponential",
    "LogNormal",
    "Model",
    "PositiveDuration",
    "Probability",
    "Spread",
    "Weibull",
]


class Model(BaseModel):
    """Base of every scenario model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False, strict=True
    )


def _duration_schema(positive: bool) -> WithJsonSchema:
    """What a scenario file may write: a duration with its unit."""
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "a duration like 500ms, 90s, 30m, 1h, 1d or 1h30m"
            + (" (more than zero)" if positive else ""),
        }
    )


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(ge=0),
    PlainSerializer(format_duration, return_type=str),
    _duration_schema(False),
]
PositiveDuration = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(gt=0),
    PlainSerializer(format_duration, return_type=str),
    _duration_schema(True),
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


MAX_DURATION_S = 3650 * 86_400.0  # a distribution's scale: ten years (longer: a typo)


def _at_most_ten_years(seconds: float) -> float:
    if seconds > MAX_DURATION_S:
        raise ValueError(f"expected at most 3650d (got {format_duration(seconds)})")
    return seconds


ScaleDuration = Annotated[PositiveDuration, AfterValidator(_at_most_ten_years)]


class LogNormal(Model):
    """Lognormal durations: ``median * exp(sigma * N(0, 1))``."""

    dist: Literal["lognormal"]
    median: ScaleDuration
    sigma: float = Field(ge=0.0)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.median * np.exp(self.sigma * rng.standard_normal(n))


class Weibull(Model):
    """Weibull durations with ``scale`` and ``shape`` (shape < 1 gives a heavy tail)."""

    dist: Literal["weibull"]
    scale: ScaleDuration
    shape: float = Field(gt=0.0)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.scale * rng.weibull(self.shape, n)


class Exponential(Model):
    """Exponential durations with the given mean (memoryless service, Poisson gaps)."""

    dist: Literal["exponential"]
    mean: ScaleDuration

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean, n)


class Constant(Model):
    """Always the same duration."""

    dist: Literal["constant"]
    value: Annotated[Duration, AfterValidator(_at_most_ten_years)]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)


DurationDist = Annotated[LogNormal | Weibull | Exponential | Constant, Field(discriminator="dist")]


class Spread(Model):
    """A positive per-user trait, lognormal around ``median`` (``sigma`` 0: everyone equal)."""

    median: float = Field(gt=0.0)
    sigma: float = Field(ge=0.0)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.median * np.exp(self.sigma * rng.standard_normal(n))
