"""The scenario schema, loading, validation and overrides."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from simulator.distributions import (
    Duration,
    DurationDist,
    Exponential,
    LogNormal,
    Model,
    PositiveDuration,
    Probability,
    Spread,
    Weibull,
)
from simulator.errors import SimulatorError

__all__ = ["LOCALE_UTC_OFFSETS", "Scenario", "load_scenario", "resolved_yaml"]

# Locales users can come from, with the standard UTC offset (hours) of their main zone;
# ``zones.ZONES`` has each locale's zones, their shares and daylight saving time. The
# Faker locale also renders the user's country.
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


# Bounds that keep a run finite and its times readable (README: "Bad input").
MAX_DURATION_S = 400 * 86_400.0
EARLIEST_START = datetime(1971, 1, 1, tzinfo=UTC)
LATEST_START = datetime(9000, 1, 1, tzinfo=UTC)
MAX_VISITS_PER_DAY = 1000.0


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


def _weights(n: int, name: str) -> Callable[[list[float]], list[float]]:
    def check(v: list[float]) -> list[float]:
        if len(v) != n:
            raise ValueError(f"expected {n} {name} weights (got {len(v)})")
        if any(w < 0 for w in v) or sum(v) <= 0:
            raise ValueError("expected non-negative weights with a positive sum")
        return v

    return check


Platform = Literal["ios", "android", "web"]


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
    platforms: dict[Platform, float] = Field(
        default_factory=lambda: {"ios": 0.45, "android": 0.45, "web": 0.1}
    )
    # by_country: web keeps its share of ``platforms``, and phones split between iOS and
    # Android as in each user's country (StatCounter 2025); scenario: ``platforms`` as given.
    mobile_split: Literal["by_country", "scenario"] = "by_country"
    visits_per_day: Spread = Spread(median=1.5, sigma=1.0)
    click_propensity: Spread = Spread(median=1.0, sigma=0.6)
    patience: DurationDist = LogNormal(dist="lognormal", median="8s", sigma=0.5)
    min_visit_gap: Duration = "0s"
    # A population that lives (design choices): each day this share of the users installs
    # the app (inactive before), and this share of those active stops for good.
    joins_per_day: Probability = 0.01
    churn_per_day: Probability = 0.01

    @field_validator("visits_per_day")
    @classmethod
    def _bounded_visits(cls, v: Spread) -> Spread:
        if v.median > MAX_VISITS_PER_DAY:
            raise ValueError(f"median: expected at most {MAX_VISITS_PER_DAY:g} (got {v.median:g})")
        return v

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
    factor: float = Field(gt=0.0, le=1000.0)


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
    """What happens inside one visit (a true session), one distribution per transition."""

    no_search_prob: Probability = 0.12
    searches_mean: float = Field(2.0, ge=1.0)
    max_searches: int = Field(40, gt=0, le=200)
    first_search: DurationDist = LogNormal(dist="lognormal", median="10s", sigma=0.8)
    scan_time: DurationDist = LogNormal(dist="lognormal", median="6s", sigma=0.8)
    dwell_time: DurationDist = Weibull(dist="weibull", scale="100s", shape=0.6)
    reformulation: DurationDist = LogNormal(dist="lognormal", median="25s", sigma=1.0)
    close_after: DurationDist = LogNormal(dist="lognormal", median="40s", sigma=1.2)
    long_pause_prob: Probability = 0.02
    long_pause: DurationDist = LogNormal(dist="lognormal", median="25m", sigma=0.6)
    silent_close_prob: Probability = 0.25
    return_prob: Probability = 0.2
    return_after: DurationDist = LogNormal(dist="lognormal", median="6m", sigma=1.3)

    @field_validator("return_prob")
    @classmethod
    def _finite_chains(cls, v: float) -> float:
        if v > 0.9:
            raise ValueError(f"expected a probability <= 0.9 (got {v})")
        return v


class Queries(Model):
    """The query stream (a shared Zipf head and an open-ended tail) and the results pages.

    Each query has ``candidates`` items with relevance grades; a hard query has fewer
    relevant ones (``difficulty``: 0, every query alike). Each search ranks them by grade
    plus Gaussian ``ranking_noise`` and shows the top ``results_per_page``.

    A query's text, its candidate items and their relevance grades are derived from its
    index and the seed, so the vocabulary is unbounded and nothing is stored per query.
    """

    head: int = Field(2000, gt=0, le=500_000)
    # Per language; mixed languages and typo variants flatten the fit over all texts.
    zipf_exponent: float = Field(1.0, ge=0.0)
    tail_share: Probability = 0.5  # about half of the queries are one-offs (AOL 2006: 0.48 unique)
    catalog: int = Field(1_000_000, gt=0, le=1_000_000_000)
    candidates: int = Field(20, gt=0, le=1000)
    results_per_page: int = Field(10, gt=0, le=100)
    ranking_noise: float = Field(0.4, ge=0.0)
    difficulty: float = Field(1.0, ge=0.0)
    zero_result_rate: Probability = 0.04
    # Misspelled queries: about 10-15% of web queries (Cucerzan and Brill 2004).
    typo_rate: Probability = 0.10
    # Of the searches after a visit's first: an edit of the previous query (Jansen, Booth
    # and Spink 2009: about 37% of queries reformulate), else a new one.
    reformulation_prob: Probability = 0.37
    # A visit's first search repeats one of the user's earlier queries (re-finding: Teevan
    # et al. 2007, 33% of queries in a year of Yahoo logs repeat the user's own).
    refind_prob: Probability = 0.25
    reclick_prob: Probability = 0.6  # a re-found query: its earlier click is clicked again


class Backend(Model):
    """The shared search service: ``replicas`` behind a sticky load balancer (a user always
    reaches the same one: the user's group of 256 modulo ``replicas``), each with
    ``servers`` FCFS servers. Replicas are what ``--processes`` shards by."""

    replicas: int = Field(8, gt=0, le=4096)
    servers: int = Field(1, gt=0, le=1_000_000)
    service_time: DurationDist = Exponential(dist="exponential", mean="120ms")
    # The network between the app and the service: results arrive one round trip after the
    # service finishes (mobile networks: tens of milliseconds, a long tail).
    round_trip: DurationDist = LogNormal(dist="lognormal", median="60ms", sigma=0.5)


def _per_grade(name: str) -> Callable[[list[float]], list[float]]:
    def check(v: list[float]) -> list[float]:
        if any(not 0.0 <= x <= 1.0 for x in v):
            raise ValueError(f"expected {name} in [0, 1] (got {v})")
        return v

    return check


class Clicks(Model):
    """The click model and its parameters.

    Candidate items have a relevance grade (0..len(attractiveness)-1, drawn with
    ``grade_weights``); a grade's attractiveness (times the user's click propensity) and
    satisfaction feed the model. ``dbn``: examination continues after a click unless the
    user is satisfied, and with ``continuation`` after each rank (Chapelle and Zhang 2009).
    ``dcm``: continue after a click at rank r with ``dcm_continuation[r]`` (Guo et al.
    2009). ``pbm``: rank r examined with ``r ** -examination_decay``. ``cascade``: one click.
    """

    model: Literal["cascade", "pbm", "dbn", "dcm"] = "dbn"
    attractiveness: list[float] = Field(
        default_factory=lambda: [0.04, 0.15, 0.4, 0.65, 0.9], min_length=1
    )
    grade_weights: list[float] = Field(
        default_factory=lambda: [0.35, 0.3, 0.2, 0.1, 0.05], min_length=1
    )
    satisfaction: list[float] = Field(
        default_factory=lambda: [0.0, 0.05, 0.15, 0.3, 0.5], min_length=1
    )
    continuation: Probability = 0.9
    examination_decay: float = Field(0.9, ge=0.0)
    # After the model's clicks (design choices): a share of searches with two clicks or
    # more clicks them out of rank order, and a click is followed by a second click on the
    # same item (back to the list, and in again) with ``repeat_prob``.
    out_of_order_prob: Probability = 0.25
    repeat_prob: Probability = 0.05
    dcm_continuation: list[float] = Field(
        default_factory=lambda: [0.6, 0.55, 0.5, 0.5, 0.45, 0.45, 0.4, 0.4, 0.4, 0.4],
        min_length=1,
    )

    _attractive = field_validator("attractiveness")(_per_grade("attractiveness"))
    _satisfied = field_validator("satisfaction")(_per_grade("satisfaction"))
    _continue = field_validator("dcm_continuation")(_per_grade("probabilities"))

    @field_validator("grade_weights")
    @classmethod
    def _weights_mix(cls, v: list[float]) -> list[float]:
        if any(w < 0 for w in v) or sum(v) <= 0:
            raise ValueError("expected non-negative weights with a positive sum")
        return v

    @model_validator(mode="after")
    def _one_value_per_grade(self) -> Clicks:
        grades = len(self.attractiveness)
        for name in ("grade_weights", "satisfaction"):
            if len(getattr(self, name)) != grades:
                raise ValueError(
                    f"{name}: expected one value per grade ({grades}, as attractiveness)"
                    f" (got {len(getattr(self, name))})"
                )
        return self


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
    ``duration``; batches flushed meanwhile wait on the device and go out, in order, when it
    ends. Killed apps: with ``unflushed_tail_prob`` the app dies before the SDK flushed its
    queue, and the queued events are sent at the user's next launch (Unity caches unsent
    events and sends them then); a tail still held when the run ends is never delivered.
    """

    rate_per_day: float = Field(0.0, ge=0.0)
    unflushed_tail_prob: Probability = 0.0
    duration: DurationDist = LogNormal(dist="lognormal", median="2h", sigma=1.0)


class Duplicates(Model):
    """At-least-once retries, the same ``event_id`` delivered again.

    ``prob``: an event of each type is delivered again with ``prob`` (and again with
    ``prob`` squared...), ``delay`` after the previous delivery (a beacon fired twice).
    ``batch_retry_prob``: a whole batch is sent again ``delay`` after it arrived (its
    acknowledgement was lost); the retry may land after newer batches of the device.
    """

    prob: PerType = PerType()
    batch_retry_prob: Probability = 0.0
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


class FlushPolicy(Model):
    """When an analytics SDK sends its queue: at ``flush_at`` events, every
    ``flush_interval``, and when the app closes or goes to the background; one request
    holds at most ``max_batch`` events."""

    flush_at: int = Field(20, gt=0)
    flush_interval: PositiveDuration = "30s"
    max_batch: int = Field(100, gt=0)


def _sdk_defaults() -> dict[str, FlushPolicy]:
    # Segment and PostHog mobile SDKs: 20 events or 30 s; analytics.js batching: 10 or 5 s.
    mobile = FlushPolicy(flush_at=20, flush_interval="30s")
    return {"ios": mobile, "android": mobile, "web": FlushPolicy(flush_at=10, flush_interval="5s")}


class Delivery(Model):
    """From client to collector: batched, in-order requests, and the faults real pipelines see.

    Each device queues its events and sends them in batches (``sdk``, per platform); a
    batch is one request with one network ``delay``, and a device's requests arrive in
    order (one in flight). ``parallel_requests`` > 1 lets that many travel at once, so
    batches overtake each other (a fault: per-device reordering).
    """

    delay: DurationDist = LogNormal(dist="lognormal", median="80ms", sigma=0.6)
    sdk: dict[Platform, FlushPolicy] = Field(default_factory=_sdk_defaults)
    parallel_requests: int = Field(1, gt=0, le=64)
    offline: Offline = Offline()
    duplicates: Duplicates = Duplicates()
    loss: PerType = PerType()
    clock_skew: ClockSkew = ClockSkew()

    @field_validator("sdk")
    @classmethod
    def _every_platform(cls, v: dict[str, FlushPolicy]) -> dict[str, FlushPolicy]:
        return {**_sdk_defaults(), **v}

    @property
    def perfect(self) -> bool:
        """True when no event is lost, repeated, held offline or stamped off its time."""
        return (
            self.offline.rate_per_day == 0
            and self.offline.unflushed_tail_prob == 0
            and not any(self.duplicates.prob.model_dump().values())
            and self.duplicates.batch_retry_prob == 0
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

    @field_validator("duration")
    @classmethod
    def _bounded_duration(cls, v: float) -> float:
        if v > MAX_DURATION_S:
            raise ValueError(f"expected at most 400d (got {v / 86400:,.0f} days)")
        return v

    @field_validator("start")
    @classmethod
    def _bounded_start(cls, v: datetime) -> datetime:
        if not EARLIEST_START <= v <= LATEST_START:
            raise ValueError(
                f"expected a start from 1971 to 9000 (got {v.strftime('%Y-%m-%dT%H:%M:%SZ')})"
            )
        return v


S = TypeVar("S", bound=Scenario)


class _StrictLoader(yaml.SafeLoader):
    """safe_load, except that a key repeated in one mapping is an error (not "last wins")."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _known_keys(model: type, loc: tuple) -> list[str]:
    """The keys allowed where ``loc`` points (for "did you mean")."""
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
        model = next(
            (a for a in getattr(model, "__args__", (model,)) if hasattr(a, "model_fields")),
            model,
        )
    return list(getattr(model, "model_fields", {}))


def _problem(path: str, err: dict[str, Any], model: type | None = None) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        msg = "expected a mapping of keys"  # not pydantic's class names
    elif err["type"] == "union_tag_invalid":
        tags = err.get("ctx", {}).get("expected_tags", "")
        msg = f"dist: expected one of {tags}"
    if err["type"] == "extra_forbidden" and model is not None:
        close = difflib.get_close_matches(str(err["loc"][-1]), _known_keys(model, err["loc"]), 1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{loc}: unknown key{hint}"
    if err["type"] in ("missing", "extra_forbidden") or "(got " in msg:
        return f"{loc}: {msg}"
    got = repr(err.get("input"))
    return f"{loc}: {msg} (got {got[:60]})"


MAX_NODES = 100_000  # values of a scenario once its YAML aliases are expanded
FLOAT_RANGE = (1e-9, 1e9)  # a number's magnitude (or zero): outside, a typo or an overflow


def _bounded(path: str, root: yaml.Node | None) -> None:
    """Refuse a YAML document that expands past ``MAX_NODES`` values through its aliases
    (a "billion laughs"), before anything expands it; sizes are counted once per node."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = MAX_NODES + 1  # a node inside itself: a cycle counts as too many
        n = 1
        if isinstance(node, yaml.MappingNode):
            n += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n += sum(size(v) for v in node.value)
        n = min(n, MAX_NODES + 1)
        sizes[id(node)] = n
        return n

    if root is not None and size(root) > MAX_NODES:
        raise SimulatorError(
            f"{path}: more than {MAX_NODES:,} values once its aliases are expanded"
        )


def _numbers(path: str, value: Any, where: str = "") -> None:
    """Refuse numbers no scenario means: floats that are not finite, or whose magnitude is
    outside ``FLOAT_RANGE`` (``sigma: 1e300``, ``shape: 5e-324``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _numbers(path, v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            _numbers(path, v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, float):
        low, high = FLOAT_RANGE
        if not math.isfinite(value) or (value != 0.0 and not low <= abs(value) <= high):
            raise SimulatorError(
                f"{path}: {where or '(top level)'}: expected a finite number from {low:g} to "
                f"{high:g} in size, or 0 (got {value!r})"
            )


def load_scenario(
    path: str | Path,
    overrides: dict[str, Any] | None = None,
    model: type[S] = Scenario,
    flags: dict[str, str] | None = None,
) -> S:
    """Read, override and validate a scenario file; raise SimulatorError with every problem.

    ``model`` may be a subclass of Scenario that adds sections its caller uses. ``flags``
    names the command-line flag behind an override (``{"population.users": "--users"}``):
    a bad value there is blamed on the flag, not on the file.
    """
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise SimulatorError(f"{path}: cannot read scenario: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise SimulatorError(
            f"{path}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})"
        ) from None
    try:
        _bounded(path, yaml.compose(text, Loader=_StrictLoader))
        raw = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SimulatorError(f"{path}: {where}invalid YAML: {problem}") from None
    except RecursionError:
        raise SimulatorError(f"{path}: invalid YAML: nested too deeply") from None
    if raw is None:
        raise SimulatorError(f"{path}: the scenario is empty (write {{}} for every default)")
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
        scenario = model.model_validate(raw)
    except ValidationError as e:
        flags = {k: v for k, v in (flags or {}).items() if k in (overrides or {})}
        errors = e.errors()
        by_flag = [
            (flags[loc], err) for err in errors if (loc := ".".join(map(str, err["loc"]))) in flags
        ]
        if by_flag:
            raise SimulatorError(
                "; ".join(
                    f"{flag}: {_problem(path, err).split(': ', 1)[1]}" for flag, err in by_flag
                )
            ) from None
        problems = "; ".join(_problem(path, err, model) for err in errors)
        raise SimulatorError(f"{path}: {problems}") from None
    _numbers(path, raw)  # within the model's bounds, yet no one means them
    return scenario


def resolved_yaml(scenario: Scenario) -> str:
    """Return the fully resolved scenario as YAML, loadable to the same scenario."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
