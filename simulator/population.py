"""The users: who they are (country, device, how fast they update) and how they behave,
drawn with numpy per cohort; what their clients report comes from ``clients``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.clients import IOS_SHARE_OF_MOBILE, MODELS, app_releases
from simulator.scenario import Scenario
from simulator.streams import RELEASES, TRAITS, cohorts, stream
from simulator.zones import ZONES

__all__ = ["Population", "build_population"]

DAY_S = 86_400.0
# How long after a release a user runs it (log-normal, days): app stores auto-update within
# days for most users and weeks or months for some; OS updates wait longer, browsers less.
_LAG_DAYS = {"app": (2.0, 1.5), "ios": (10.0, 1.3), "android": (30.0, 1.2), "web": (4.0, 1.0)}


@dataclass(frozen=True, slots=True)
class Population:
    """Per-user traits as arrays indexed by user, plus the tables the indices point into."""

    size: int
    locale: np.ndarray  # index into locale_names
    utc_offset_h: np.ndarray  # the user's standard offset (hours)
    zone: np.ndarray  # index into zones
    device: np.ndarray  # index into devices (a model of ``clients.MODELS``)
    app_lag_s: np.ndarray  # how long after an app release the user runs it
    os_lag_s: np.ndarray  # ... and an OS (or browser) release
    visits_per_day: np.ndarray
    click_propensity: np.ndarray
    patience_s: np.ndarray
    clock_offset_s: np.ndarray  # device clock minus true time, at the run start
    clock_drift: np.ndarray  # seconds gained per second (ppm * 1e-6)
    joined_s: np.ndarray  # offset from the run start when the user installs (-inf: before)
    left_s: np.ndarray  # ... stops for good (inf: not during the run)
    locale_names: tuple[str, ...]
    devices: tuple[tuple[str, str], ...]  # (platform, model name), as ``clients.MODELS``
    app_versions: tuple[str, ...]  # the app's releases, oldest first
    app_shipped_s: np.ndarray  # epoch seconds each release ships
    zones: tuple[tuple[float, str], ...]  # (standard offset, daylight-saving rule)

    def app_version_at(self, users: np.ndarray, when_s: np.ndarray) -> np.ndarray:
        """Index into ``app_versions`` of what each user runs at epoch time ``when_s``."""
        k = np.searchsorted(self.app_shipped_s, when_s - self.app_lag_s[users], side="right")
        return np.clip(k - 1, 0, len(self.app_versions) - 1)


def _device_choice(scenario: Scenario, countries: list[str]) -> np.ndarray:
    """P(model | country), one row per locale: web at the scenario's share, the mobile split
    by country (StatCounter) or by the scenario's weights (``mobile_split: scenario``)."""
    pop = scenario.population
    weights = {p: pop.platforms.get(p, 0.0) for p in ("ios", "android", "web")}
    total = sum(weights.values())
    rows = []
    for country in countries:
        share = {p: w / total for p, w in weights.items()}
        mobile = share["ios"] + share["android"]
        if pop.mobile_split == "by_country" and share["ios"] > 0 and share["android"] > 0:
            ios = IOS_SHARE_OF_MOBILE[country]
            share["ios"], share["android"] = mobile * ios, mobile * (1 - ios)
        model_w = np.array([m.weight for m in MODELS])
        in_platform = {p: model_w[[m.platform == p for m in MODELS]].sum() for p in share}
        row = np.array([share[m.platform] * m.weight / in_platform[m.platform] for m in MODELS])
        rows.append(row / row.sum())
    return np.array(rows)


def build_population(scenario: Scenario) -> Population:
    """Draw every user's traits from the scenario seed, cohort by cohort."""
    pop = scenario.population
    start_s = scenario.start.timestamp()
    versions, shipped = app_releases(
        stream(scenario.seed, RELEASES), start_s, start_s + scenario.duration
    )
    locale_names = tuple(pop.locales)
    locale_p = np.array([pop.locales[name] for name in locale_names])
    locale_p /= locale_p.sum()
    device_p = _device_choice(scenario, [name[-2:] for name in locale_names])
    zones = tuple((std, rule) for name in locale_names for _, std, rule in ZONES[name])
    zone_lo = np.cumsum([0, *(len(ZONES[name]) for name in locale_names)])
    zone_cdf = [np.cumsum([share for share, _, _ in ZONES[name]]) for name in locale_names]
    os_lag = np.array([_LAG_DAYS[m.platform] for m in MODELS])

    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "loc",
            "zone",
            "dev",
            "app",
            "os",
            "vpd",
            "prop",
            "pat",
            "off",
            "drift",
            "in",
            "out",
        )  # fmt: skip
    }
    days = scenario.duration / DAY_S
    skew = scenario.delivery.clock_skew
    for c, members in enumerate(cohorts(pop.users)):
        rng = stream(scenario.seed, TRAITS, c)
        n = len(members)
        loc = rng.choice(len(locale_names), n, p=locale_p)
        u = rng.random(n)  # a model by inverse CDF of the user's country's row
        cdf = np.cumsum(device_p, axis=1)[loc]
        dev = np.minimum((u[:, None] >= cdf).sum(axis=1), len(MODELS) - 1)
        parts["loc"].append(loc)
        w = rng.random(n)  # a zone of the user's country, by its share of the people
        zone = np.empty(n, dtype=np.int64)
        for k, cdf in enumerate(zone_cdf):
            rows = loc == k
            zone[rows] = zone_lo[k] + np.minimum(
                np.searchsorted(cdf / cdf[-1], w[rows], side="right"), len(cdf) - 1
            )
        parts["zone"].append(zone)
        parts["dev"].append(dev)
        app_median, app_sigma = _LAG_DAYS["app"]
        parts["app"].append(DAY_S * app_median * np.exp(app_sigma * rng.standard_normal(n)))
        median, sigma = os_lag[dev, 0], os_lag[dev, 1]
        parts["os"].append(DAY_S * median * np.exp(sigma * rng.standard_normal(n)))
        parts["vpd"].append(pop.visits_per_day.sample(rng, n))
        parts["prop"].append(pop.click_propensity.sample(rng, n))
        parts["pat"].append(pop.patience.sample(rng, n))
        parts["off"].append(rng.normal(0.0, skew.offset_sd, n))
        parts["drift"].append(rng.normal(0.0, skew.drift_ppm_sd * 1e-6, n))
        # Joins: a share joins_per_day a day, at a uniform time of the run; the others were
        # users already. Churn: a constant hazard from the start (or the join).
        joins = rng.random(n) < min(1.0, pop.joins_per_day * days)
        join_s = np.where(joins, rng.random(n) * scenario.duration, -np.inf)
        rate = -np.log1p(-pop.churn_per_day) / DAY_S if pop.churn_per_day < 1 else np.inf
        stay = rng.exponential(1.0, n) / rate if rate > 0 else np.full(n, np.inf)
        parts["in"].append(join_s)
        parts["out"].append(np.maximum(join_s, 0.0) + stay)
    joined = {k: np.concatenate(v) for k, v in parts.items()}
    return Population(
        size=pop.users,
        locale=joined["loc"],
        utc_offset_h=np.array([std for std, _ in zones])[joined["zone"]],
        zone=joined["zone"],
        device=joined["dev"],
        app_lag_s=joined["app"],
        os_lag_s=joined["os"],
        visits_per_day=joined["vpd"],
        click_propensity=joined["prop"],
        patience_s=joined["pat"],
        clock_offset_s=joined["off"],
        clock_drift=joined["drift"],
        joined_s=joined["in"],
        left_s=joined["out"],
        locale_names=locale_names,
        devices=tuple((m.platform, m.name) for m in MODELS),
        app_versions=versions,
        app_shipped_s=shipped,
        zones=zones,
    )
