"""Time zones: several per country where a country has them, with daylight saving time.

Each locale's users live in zones at rough population shares; a zone has a standard UTC
offset and a daylight-saving rule: ``us`` (second Sunday of March to first Sunday of
November, 02:00 local), ``eu`` (last Sunday of March to last Sunday of October, 01:00
UTC), ``au`` (southern: first Sunday of October to first Sunday of April, 02:00 local
standard time), or none (Mexico since 2022, Brazil since 2019, India, Japan, Queensland,
Western Australia). Every offset is a multiple of half an hour and every change falls on
a UTC half hour, so the arrivals' half-hour chunks stay linear.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np

__all__ = ["RULES", "ZONES", "dst_hours", "offsets_at"]

RULES = ("none", "us", "eu", "au")

# (share, standard offset in hours, rule) per locale; shares: rough populations.
ZONES: dict[str, tuple[tuple[float, float, str], ...]] = {
    "en_US": ((0.47, -5.0, "us"), (0.29, -6.0, "us"), (0.07, -7.0, "us"), (0.17, -8.0, "us")),
    "es_MX": ((0.80, -6.0, "none"), (0.12, -7.0, "none"), (0.08, -5.0, "none")),
    "pt_BR": ((0.90, -3.0, "none"), (0.10, -4.0, "none")),
    "en_GB": ((1.0, 0.0, "eu"),),
    "de_DE": ((1.0, 1.0, "eu"),),
    "fr_FR": ((1.0, 1.0, "eu"),),
    "hi_IN": ((1.0, 5.5, "none"),),
    "ja_JP": ((1.0, 9.0, "none"),),
    "en_AU": ((0.55, 10.0, "au"), (0.22, 10.0, "none"), (0.08, 9.5, "au"), (0.15, 8.0, "none")),
}


def _sunday(year: int, month: int, nth: int) -> datetime:
    """The nth Sunday of a month (nth = -1: the last)."""
    if nth > 0:
        first = datetime(year, month, 1, tzinfo=UTC)
        return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (nth - 1))
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC) - timedelta(days=1)
    return end - timedelta(days=(end.weekday() - 6) % 7)


@lru_cache(maxsize=4096)
def _window(rule: str, year: int, std: float) -> tuple[float, float]:
    """The UTC epoch seconds a rule's daylight time starts and ends in ``year`` (for a
    zone of standard offset ``std``; ``au``: the start is in October, the end in April)."""
    local = timedelta(hours=std)
    if rule == "us":
        begin = _sunday(year, 3, 2) + timedelta(hours=2) - local
        end = _sunday(year, 11, 1) + timedelta(hours=2) - local - timedelta(hours=1)
    elif rule == "eu":
        begin = _sunday(year, 3, -1) + timedelta(hours=1)
        end = _sunday(year, 10, -1) + timedelta(hours=1)
    else:  # au: daylight time from October to April
        begin = _sunday(year, 10, 1) + timedelta(hours=2) - local
        end = _sunday(year, 4, 1) + timedelta(hours=2) - local
    return begin.timestamp(), end.timestamp()


def dst_hours(rule: str, std: float, epoch_s: float) -> float:
    """1.0 while the zone keeps daylight saving time at ``epoch_s``, else 0.0."""
    if rule == "none":
        return 0.0
    year = datetime.fromtimestamp(epoch_s, UTC).year
    begin, end = _window(rule, year, std)
    if rule == "au":
        return 1.0 if epoch_s >= begin or epoch_s < end else 0.0
    return 1.0 if begin <= epoch_s < end else 0.0


def offsets_at(
    zone: np.ndarray, table: tuple[tuple[float, str], ...], epoch_s: float
) -> np.ndarray:
    """Each user's UTC offset (hours) at ``epoch_s``: ``zone`` indexes ``table`` of
    (standard offset, rule)."""
    now = np.array([std + dst_hours(rule, std, epoch_s) for std, rule in table])
    return now[zone]
