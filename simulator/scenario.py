"""The scenario schema, loading, validation and overrides."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BeforeValidator, Field, PlainSerializer, ValidationError, field_validator

from simulator.distributions import (
    Beta,
    Duration,
    DurationDist,
    Exponential,
    LogNormal,
    Model,
    PositiveDuration,
    Probability,
    Spread,
)
from simulator.errors import SimulatorError

__all__ = ["LOCALE_UTC_OFFSETS", "Scenario", "load_scenario", "resolved_yaml"]

# Locales users can come from, with the UTC offset (hours, standard time) their diurnal
# profile is read in. The Faker locale also renders the user's country.
LOCALE_UTC_OFFSETS: dict[str, float] = {
    "en_US": -5.0,
    "es_MX": -6.0,
    "pt_BR": -3.0,
    "en_GB": 0.0,
    "de_DE": 1.0,
    "fr_FR": 1.0,
    "hi_IN": 5.5,
    "ja_JP": 9.0,
    "en_AU": 10.0,
}


def _utc_datetime(value: object) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"expected an ISO 8601 time like 2026-01-05T00:00:00Z (got {value!r})"
            ) from None
    if not isinstance(value, datetime):
        raise ValueError(f"expected an ISO 8601 time like 2026-01-05T00:00:00Z (got {value!r})")
    if value.tzinfo is None:
        raise ValueError(f"expected a time zone, e.g. a trailing Z (got {value.isoformat()!r})")
    return value.astimezone(UTC)


UtcTime = Annotated[
    datetime,
    BeforeValidator(_utc_datetime),
    PlainSerializer(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"), return_type=str),
]


def _weights(n: int, name: str):
    def check(v: list[float]) -> list[float]:
        if len(v) != n:
            raise ValueError(f"expected {n} {name} weights (got {len(v)})")
        if any(w < 0 for w in v) or sum(v) <= 0:
            raise ValueError("expected non-negative weights with a positive sum")
        return v

    return check


class Population(Model):
    """Who the users are and how they differ."""

    users: int = Field(2000, gt=0, lt=2**24)
    locales: dict[str, float] = Field(
        default_factory=lambda: {
            "en_US": 0.35,
            "en_GB": 0.15,
            "de_DE": 0.1,
            "fr_FR": 0.1,
            "pt_BR": 0.1,
            "hi_IN": 0.1,
            "ja_JP": 0.1,
        }
    )
    platforms: dict[Literal["ios", "android", "web"], float] = Field(
        default_factory=lambda: {"ios": 0.45, "android": 0.45, "web": 0.1}
    )
    visits_per_day: Spread = Spread(median=1.5, sigma=1.0)
    click_propensity: Spread = Spread(median=1.0, sigma=0.25)
    patience: DurationDist = LogNormal(dist="lognormal", median="8s", sigma=0.5)
    min_visit_gap: Duration = "2m"

    @field_validator("locales")
    @classmethod
    def _known_locales(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(LOCALE_UTC_OFFSETS))
        if unknown:
            raise ValueError(
                f"unknown locale {unknown[0]!r}; known: {', '.join(LOCALE_UTC_OFFSETS)}"
            )
        return _positive_mix(v)

    @field_validator("platforms")
    @classmethod
    def _platform_mix(cls, v: dict[str, float]) -> dict[str, float]:
        return _positive_mix(v)


def _positive_mix(v: dict[str, float]) -> dict[str, float]:
    if not v or any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
        raise ValueError("expected a non-empty mapping of non-negative weights with a positive sum")
    return v


class Burst(Model):
    """A window in which every user's visit rate is multiplied (a push campaign, a news spike)."""

    at: Duration
    length: PositiveDuration
    factor: float = Field(gt=0.0)


class Arrivals(Model):
    """When visits start: hourly weights in the user's local time, weekday weights Mon..Sun."""

    hourly_weights: list[float] = Field(
        default_factory=lambda: [
            0.3,
            0.2,
            0.15,
            0.1,
            0.1,
            0.2,
            0.5,
            0.9,
            1.2,
            1.2,
            1.1,
            1.1,
            1.3,
            1.2,
            1.0,
            1.0,
            1.1,
            1.3,
            1.5,
            1.7,
            1.8,
            1.6,
            1.1,
            0.6,
        ]
    )
    weekday_weights: list[float] = Field(
        default_factory=lambda: [1.0, 1.0, 1.0, 1.0, 1.05, 1.25, 1.2]
    )
    bursts: list[Burst] = Field(default_factory=list)

    _hourly = field_validator("hourly_weights")(_weights(24, "hourly"))
    _weekday = field_validator("weekday_weights")(_weights(7, "weekday"))


class Visit(Model):
    """What happens inside one visit (a true session)."""

    searches_mean: float = Field(2.5, gt=0.0)
    max_searches: int = Field(40, gt=0, le=200)
    think_time: DurationDist = LogNormal(dist="lognormal", median="12s", sigma=0.9)
    long_pause_prob: Probability = 0.02
    long_pause: DurationDist = LogNormal(dist="lognormal", median="25m", sigma=0.6)
    dwell_time: DurationDist = LogNormal(dist="lognormal", median="20s", sigma=0.8)
    silent_close_prob: Probability = 0.25


class Queries(Model):
    """The query vocabulary, the item catalog and what a results page shows."""

    vocabulary: int = Field(5000, gt=0)
    zipf_exponent: float = Field(0.9, ge=0.0)
    catalog: int = Field(50_000, gt=0)
    results_per_page: int = Field(10, gt=0, le=100)
    zero_result_rate: Probability = 0.04


class Backend(Model):
    """The shared search service: FCFS servers and their service time."""

    servers: int = Field(4, gt=0)
    service_time: DurationDist = Exponential(dist="exponential", mean="120ms")


class Clicks(Model):
    """The click model and its parameters."""

    model: Literal["cascade", "pbm"] = "cascade"
    attractiveness: Beta = Beta(a=0.35, b=4.0)
    examination_decay: float = Field(1.0, ge=0.0)


class PerType(Model):
    """A probability for each event type."""

    app_open: Probability = 0.0
    search: Probability = 0.0
    results: Probability = 0.0
    click: Probability = 0.0
    app_close: Probability = 0.0


class Offline(Model):
    """Events that wait on the device and arrive together, up to hours late.

    Outages: each device loses its upload channel ``rate_per_day`` times a day (the next
    outage starts an exponential time after a visit starts, once the last one is over) for
    ``duration``; events generated meanwhile are sent when it ends. Killed apps: with
    ``unflushed_tail_prob`` the app dies before the SDK flushes, and the events after the
    visit's last search (its results, clicks, close) are sent on the next launch,
    ``duration`` after the visit ends.
    """

    rate_per_day: float = Field(0.0, ge=0.0)
    unflushed_tail_prob: Probability = 0.0
    duration: DurationDist = LogNormal(dist="lognormal", median="2h", sigma=1.0)


class Duplicates(Model):
    """At-least-once retries: an event of each type is delivered again with ``prob`` (and
    again with ``prob`` squared...), ``delay`` after the previous delivery."""

    prob: PerType = PerType()
    delay: DurationDist = Exponential(dist="exponential", mean="30s")

    @field_validator("prob")
    @classmethod
    def _below_one(cls, v: PerType) -> PerType:
        for kind, p in v.model_dump().items():
            if p > 0.9:
                raise ValueError(f"{kind}: expected a probability <= 0.9 (got {p})")
        return v


class ClockSkew(Model):
    """Device clocks: a normal offset per device and an optional drift (parts per million)."""

    offset_sd: Duration = "0s"
    drift_ppm_sd: float = Field(0.0, ge=0.0)


class Delivery(Model):
    """From client to collector: network delay and the faults real pipelines see."""

    delay: DurationDist = LogNormal(dist="lognormal", median="60ms", sigma=0.6)
    offline: Offline = Offline()
    duplicates: Duplicates = Duplicates()
    loss: PerType = PerType()
    clock_skew: ClockSkew = ClockSkew()

    @property
    def perfect(self) -> bool:
        """True when only the network delay applies."""
        return (
            self.offline.rate_per_day == 0
            and self.offline.unflushed_tail_prob == 0
            and not any(self.duplicates.prob.model_dump().values())
            and not any(self.loss.model_dump().values())
            and self.clock_skew.offset_sd == 0
            and self.clock_skew.drift_ppm_sd == 0
        )


class Scenario(Model):
    """A whole scenario: what to simulate, for how long, from which seed."""

    seed: int = Field(0, ge=0)
    start: UtcTime = datetime(2026, 1, 5, tzinfo=UTC)
    duration: PositiveDuration = "1d"
    emit_search_id: bool = False
    population: Population = Population()
    arrivals: Arrivals = Arrivals()
    visit: Visit = Visit()
    queries: Queries = Queries()
    backend: Backend = Backend()
    clicks: Clicks = Clicks()
    delivery: Delivery = Delivery()
    # Read by the harness (``sessionsim run``); the simulator carries it through untouched.
    sessionizers: list[dict[str, Any]] | None = None


S = TypeVar("S", bound=Scenario)


def _problem(path: str, err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] in ("missing", "extra_forbidden") or "(got " in msg:
        return f"{loc}: {msg}"
    got = repr(err.get("input"))
    return f"{loc}: {msg} (got {got[:60]})"


def load_scenario(
    path: str | Path, overrides: dict[str, Any] | None = None, model: type[S] = Scenario
) -> S:
    """Read, override and validate a scenario file; raise SimulatorError with every problem.

    ``model`` may be a subclass of Scenario that adds sections its caller uses.
    """
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise SimulatorError(f"{path}: cannot read scenario: {e.strerror or e}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SimulatorError(f"{path}: {where}invalid YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SimulatorError(f"{path}: (top level): expected a mapping (got {type(raw).__name__})")
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise SimulatorError(f"{path}: {p}: expected a mapping (got {node!r})")
        node[leaf] = value
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(_problem(path, err) for err in e.errors())
        raise SimulatorError(f"{path}: {problems}") from None


def resolved_yaml(scenario: Scenario) -> str:
    """Return the fully resolved scenario as YAML, loadable to the same scenario."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
