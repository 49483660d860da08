"""The users: traits rendered with Faker up front, heterogeneity drawn with numpy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from faker import Faker

from simulator.scenario import LOCALE_UTC_OFFSETS, Platform, Scenario
from simulator.streams import TRAITS, cohorts, stream

__all__ = ["Population", "build_population"]

_DEVICE_POOL = 24  # distinct device strings per platform
_APP_VERSIONS = 12


@dataclass(frozen=True, slots=True)
class Population:
    """Per-user traits as arrays indexed by user, plus the tables the indices point into."""

    size: int
    locale: np.ndarray  # index into locale_names
    utc_offset_h: np.ndarray
    device: np.ndarray  # index into devices
    app_version: np.ndarray  # index into app_versions
    visits_per_day: np.ndarray
    click_propensity: np.ndarray
    patience_s: np.ndarray
    clock_offset_s: np.ndarray  # device clock minus true time, at the run start
    clock_drift: np.ndarray  # seconds gained per second (ppm * 1e-6)
    locale_names: tuple[str, ...]
    devices: tuple[tuple[str, str], ...]  # (platform, device string)
    app_versions: tuple[str, ...]

    def user_id(self, u: int) -> str:
        return f"u{u:07d}"

    def country(self, u: int) -> str:
        return self.locale_names[self.locale[u]][-2:]


def _render_devices(faker: Faker, platforms: Mapping[Platform, float]) -> list[tuple[str, str]]:
    render = {
        "ios": faker.ios_platform_token,
        "android": faker.android_platform_token,
        "web": faker.user_agent,
    }
    return [(p, render[p]()) for p in sorted(platforms) for _ in range(_DEVICE_POOL)]


def build_population(scenario: Scenario) -> Population:
    """Draw every user's traits from the scenario seed, cohort by cohort."""
    pop = scenario.population
    faker = Faker("en_US")
    faker.seed_instance(scenario.seed)
    devices = _render_devices(faker, pop.platforms)
    versions = [
        f"{6 - i // 5}.{faker.random_int(0, 9)}.{faker.random_int(0, 20)}"
        for i in range(_APP_VERSIONS)
    ]

    locale_names = tuple(pop.locales)
    locale_p = np.array([pop.locales[name] for name in locale_names])
    locale_p /= locale_p.sum()
    platform_names = sorted(pop.platforms)
    device_p = np.repeat([pop.platforms[p] for p in platform_names], _DEVICE_POOL).astype(float)
    device_p /= device_p.sum()
    version_p = 0.7 ** np.arange(_APP_VERSIONS)  # most users run a recent release
    version_p /= version_p.sum()
    offsets = np.array([LOCALE_UTC_OFFSETS[name] for name in locale_names])

    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("loc", "dev", "ver", "vpd", "prop", "pat", "off", "drift")
    }
    skew = scenario.delivery.clock_skew
    for c, members in enumerate(cohorts(pop.users)):
        rng = stream(scenario.seed, TRAITS, c)
        n = len(members)
        parts["loc"].append(rng.choice(len(locale_names), n, p=locale_p))
        parts["dev"].append(rng.choice(len(devices), n, p=device_p))
        parts["ver"].append(rng.choice(_APP_VERSIONS, n, p=version_p))
        parts["vpd"].append(pop.visits_per_day.sample(rng, n))
        parts["prop"].append(pop.click_propensity.sample(rng, n))
        parts["pat"].append(pop.patience.sample(rng, n))
        parts["off"].append(rng.normal(0.0, skew.offset_sd, n))
        parts["drift"].append(rng.normal(0.0, skew.drift_ppm_sd * 1e-6, n))
    joined = {k: np.concatenate(v) for k, v in parts.items()}
    return Population(
        size=pop.users,
        locale=joined["loc"],
        utc_offset_h=offsets[joined["loc"]],
        device=joined["dev"],
        app_version=joined["ver"],
        visits_per_day=joined["vpd"],
        click_propensity=joined["prop"],
        patience_s=joined["pat"],
        clock_offset_s=joined["off"],
        clock_drift=joined["drift"],
        locale_names=locale_names,
        devices=tuple(devices),
        app_versions=tuple(versions),
    )
