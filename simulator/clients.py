"""Clients of today: the phones, operating systems and browsers in use in 2024–2026, the mobile
platform mix by country, and app and OS releases that users adopt over days.

A user keeps one device model for the run (``Population.device``), but what it reports
changes with time: each release (an app version, an OS version, a browser version) reaches
a user ``lag`` after it ships, the user's own lag drawn once (heavy-tailed: most update
within days, some wait months). So a multi-day run has users who upgrade mid-run, the
newest version grows over days while old ones decay, and no client is older than its device
or newer than what shipped. Sources are in the comments next to the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

__all__ = [
    "IOS_SHARE_OF_MOBILE",
    "MODELS",
    "Model",
    "app_releases",
    "client_table",
]

DAY_S = 86_400.0


def _t(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


# iOS share of mobile devices by country; the rest is Android. StatCounter Global Stats,
# "Mobile Operating System Market Share" by country, 2025 (rounded to 0.01).
IOS_SHARE_OF_MOBILE: dict[str, float] = {
    "US": 0.57,
    "MX": 0.22,
    "BR": 0.17,
    "GB": 0.51,
    "DE": 0.38,
    "FR": 0.35,
    "IN": 0.05,
    "JP": 0.66,
    "AU": 0.55,
}

# OS releases and the date each shipped (Apple and Google release notes).
_IOS = [
    ("17.5.1", "2024-05-20"),
    ("17.6.1", "2024-08-07"),
    ("18.0", "2024-09-16"),
    ("18.1", "2024-10-28"),
    ("18.2", "2024-12-11"),
    ("18.3", "2025-01-27"),
    ("18.4", "2025-03-31"),
    ("18.5", "2025-05-12"),
    ("18.6", "2025-07-29"),
    ("26.0", "2025-09-15"),
    ("26.1", "2025-11-03"),
]
_ANDROID = [
    ("10", "2019-09-03"),
    ("11", "2020-09-08"),
    ("12", "2021-10-04"),
    ("13", "2022-08-15"),
    ("14", "2023-10-04"),
    ("15", "2024-10-15"),
    ("16", "2025-06-10"),
]


@dataclass(frozen=True, slots=True)
class Model:
    """A device model: what it reports, how common it is, which OS it shipped with, how many
    OS upgrades its vendor gives it and how long after Google's release they come."""

    platform: str
    name: str  # iOS: the model identifier; Android: Build.MODEL; web: the browser and OS
    weight: float  # relative share within its platform
    launch: str  # first OS version (iOS, Android) or the UA template's first version (web)
    upgrades: int = 99  # OS upgrades after launch (Android vendors' update policies)
    vendor_delay_d: float = 0.0  # days after the OS release until this vendor ships it


# iPhones in use in 2024–2025 (identifiers from Apple's device list; every one of them runs
# iOS 18 and iOS 26). Weights: rough installed-base shares, newer models more common.
_IPHONES = [
    ("iPhone12,1", 5, "17.5.1"),  # iPhone 11
    ("iPhone13,2", 7, "17.5.1"),  # iPhone 12
    ("iPhone14,5", 10, "17.5.1"),  # iPhone 13
    ("iPhone14,6", 3, "17.5.1"),  # iPhone SE (3rd generation)
    ("iPhone14,7", 9, "17.5.1"),  # iPhone 14
    ("iPhone15,2", 7, "17.5.1"),  # iPhone 14 Pro
    ("iPhone15,4", 10, "17.5.1"),  # iPhone 15
    ("iPhone16,1", 8, "17.5.1"),  # iPhone 15 Pro
    ("iPhone16,2", 8, "17.5.1"),  # iPhone 15 Pro Max
    ("iPhone17,3", 10, "18.0"),  # iPhone 16
    ("iPhone17,1", 7, "18.0"),  # iPhone 16 Pro
    ("iPhone17,2", 8, "18.0"),  # iPhone 16 Pro Max
    ("iPhone17,5", 4, "18.3"),  # iPhone 16e
]
# Android phones (Build.MODEL), their launch OS, OS upgrades promised and the vendor's delay
# after Google's release: Pixels at once, Samsung flagships (7 upgrades from the S24) about
# four months later, Samsung A series (4 upgrades) and others later still.
_ANDROIDS = [
    ("SM-S911B", 6, "13", 4, 120.0),  # Galaxy S23
    ("SM-S921B", 7, "14", 7, 120.0),  # Galaxy S24
    ("SM-S928B", 5, "14", 7, 120.0),  # Galaxy S24 Ultra
    ("SM-A155F", 10, "14", 4, 180.0),  # Galaxy A15
    ("SM-A256B", 8, "14", 4, 180.0),  # Galaxy A25 5G
    ("SM-A356B", 7, "14", 4, 180.0),  # Galaxy A35 5G
    ("SM-A556B", 6, "14", 4, 180.0),  # Galaxy A55 5G
    ("SM-A145R", 6, "13", 2, 200.0),  # Galaxy A14
    ("Pixel 7a", 3, "13", 5, 0.0),
    ("Pixel 8", 3, "14", 7, 0.0),
    ("Pixel 9", 3, "14", 7, 0.0),
    ("23129RAA4G", 8, "13", 3, 240.0),  # Redmi Note 13
    ("23100RN82L", 7, "13", 2, 240.0),  # Redmi 13C
    ("CPH2581", 2, "14", 4, 90.0),  # OnePlus 12
    ("moto g54 5G", 4, "13", 1, 240.0),
    ("SM-A125F", 4, "10", 2, 200.0),  # Galaxy A12: phones of 2020 are still in use
    ("M2006C3LG", 3, "10", 0, 0.0),  # Redmi 9A: never upgraded
]
# Browsers on the web (reduced user-agent strings, as Chrome, Edge and Firefox send since
# 2023; macOS always reports 10_15_7 and Windows 11 reports NT 10.0). Major versions ship
# every 4 weeks from an anchor release; weights: StatCounter desktop browser share 2025.
_WEB = {
    "Chrome/Windows": (44, "Chrome", (131, "2024-11-12")),
    "Chrome/macOS": (12, "Chrome", (131, "2024-11-12")),
    "Chrome/Linux": (2, "Chrome", (131, "2024-11-12")),
    "Edge/Windows": (13, "Edge", (131, "2024-11-14")),
    "Firefox/Windows": (6, "Firefox", (133, "2024-11-26")),
    "Safari/macOS": (9, "Safari", (0, "")),
}
_WEB_UA = {
    "Chrome/Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Chrome/macOS": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Chrome/Linux": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Edge/Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
    "Firefox/Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 "
    "Firefox/{v}.0",
    "Safari/macOS": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/{v} Safari/605.1.15",
}
# Safari's versions follow macOS's yearly releases and their updates.
_SAFARI = [
    ("17.5", "2024-05-13"),
    ("18.0", "2024-09-16"),
    ("18.1", "2024-10-28"),
    ("18.2", "2024-12-11"),
    ("18.3", "2025-01-27"),
    ("18.4", "2025-03-31"),
    ("18.5", "2025-05-12"),
    ("26.0", "2025-09-15"),
    ("26.1", "2025-11-03"),
]

MODELS: tuple[Model, ...] = (
    *(Model("ios", n, w, os) for n, w, os in _IPHONES),
    *(Model("android", n, w, os, up, d) for n, w, os, up, d in _ANDROIDS),
    *(Model("web", name, w, "") for name, (w, _, _) in _WEB.items()),
)


def _releases(model: Model, until_s: float) -> list[tuple[float, str]]:
    """The versions ``model`` reports over time, each with when its vendor ships it."""
    if model.platform == "ios":
        first = [v for v, _ in _IOS].index(model.launch)
        return [(_t(d), f"{model.name}; iOS {v}") for v, d in _IOS[first:]]
    if model.platform == "android":
        first = [v for v, _ in _ANDROID].index(model.launch)
        rows = _ANDROID[first : first + 1 + model.upgrades]
        shipped = [
            (_t(d) + (k > 0) * model.vendor_delay_d * DAY_S, v) for k, (v, d) in enumerate(rows)
        ]
        return [(t, f"{model.name}; Android {v}") for t, v in shipped]
    template = _WEB_UA[model.name]
    _, browser, (major, anchor) = _WEB[model.name]
    if browser == "Safari":
        return [(_t(d), template.format(v=v)) for v, d in _SAFARI]
    out, t, v = [], _t(anchor), major
    while t <= until_s:
        out.append((t, template.format(v=v)))
        t, v = t + 28 * DAY_S, v + 1
    return out


@dataclass(frozen=True, slots=True)
class ClientTable:
    """Every string a device can report, and per model when each becomes available."""

    strings: tuple[str, ...]
    offsets: np.ndarray  # model m's releases are rows offsets[m]:offsets[m + 1]
    shipped_s: np.ndarray  # epoch seconds each string's release ships

    def at(self, model: np.ndarray, when_s: np.ndarray) -> np.ndarray:
        """Index into ``strings`` of what ``model`` reports at epoch time ``when_s`` (the
        newest release shipped by then; its first release if none yet)."""
        model = np.asarray(model, dtype=np.int64)
        out = np.empty(len(model), dtype=np.int64)
        for m in np.unique(model).tolist():
            rows = model == m
            lo, hi = int(self.offsets[m]), int(self.offsets[m + 1])
            k = np.searchsorted(self.shipped_s[lo:hi], when_s[rows], side="right") - 1
            out[rows] = lo + np.clip(k, 0, hi - lo - 1)
        return out


def client_table(until_s: float) -> ClientTable:
    """The strings of every model in ``MODELS`` up to epoch time ``until_s``."""
    strings: list[str] = []
    shipped: list[float] = []
    offsets = [0]
    for model in MODELS:
        for t, text in _releases(model, until_s):
            strings.append(text)
            shipped.append(t)
        offsets.append(len(strings))
    return ClientTable(tuple(strings), np.array(offsets), np.array(shipped))


def app_releases(
    rng: np.random.Generator, start_s: float, end_s: float, cadence_d: float = 14.0
) -> tuple[tuple[str, ...], np.ndarray]:
    """The app's releases from a year before ``start_s`` to ``end_s``: a minor version every
    ``cadence_d`` days, and a patch a few days after about a third of them. Return (version
    names, epoch seconds each ships), oldest first."""
    names, times = [], []
    t, minor = start_s - 365 * DAY_S, 0
    major = 7
    while t <= end_s:
        names.append(f"{major}.{minor}.0")
        times.append(t)
        if rng.random() < 0.3:
            names.append(f"{major}.{minor}.1")
            times.append(t + rng.uniform(2, 5) * DAY_S)
        minor += 1
        if minor == 20:
            major, minor = major + 1, 0
        t += cadence_d * DAY_S
    order = np.argsort(times, kind="stable")
    return tuple(names[i] for i in order), np.asarray(times)[order]
