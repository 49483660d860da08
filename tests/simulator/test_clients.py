"""Clients of today (issue 20, part 1): current devices and browsers, the mobile platform
mix of each country, and app and OS releases that users adopt over days."""

from __future__ import annotations

import re

import numpy as np

from simulator import Simulation
from simulator.clients import IOS_SHARE_OF_MOBILE, MODELS, client_table
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario

USERS = 20_000
SIM = Simulation(load_scenario(SCENARIOS / "baseline.yaml", {"population.users": USERS}))
POP = SIM.population
START_S = SIM.scenario.start.timestamp()
DAY_S = 86_400.0

# What a client in use in 2024-2026 reports: iOS 17.5+, Android 10+ with a model, Chrome/Edge
# 131+, Firefox 133+, Safari 17.5+ (none of Faker's Windows 95, MSIE 5.0 or Android 2.x).
PLAUSIBLE = {
    "ios": re.compile(r"^iPhone1[2-7],\d; iOS (17\.[5-9]|1[89]|2\d)(\.\d+)*$"),
    "android": re.compile(r"^[\w -]+; Android (1[0-6])$"),
    "web": re.compile(
        r"^Mozilla/5\.0 \((Windows NT 10\.0; Win64; x64|Macintosh; Intel Mac OS X 10_15_7|"
        r"X11; Linux x86_64)(; rv:\d+\.0)?\) .*(Chrome/1[3-9]\d\.0\.0\.0|Firefox/1[3-9]\d\.0|"
        r"Version/(17\.[5-9]|18|26)[.\d]* Safari)"
    ),
}


def test_every_string_a_device_can_report_is_a_current_client():
    table = client_table(START_S + 400 * DAY_S)
    for m, model in enumerate(MODELS):
        lo, hi = table.offsets[m], table.offsets[m + 1]
        assert hi > lo
        for text in table.strings[lo:hi]:
            assert PLAUSIBLE[model.platform].match(text), (model.name, text)


def test_ios_share_of_phones_follows_each_country_within_4_sigma():
    platform = np.array([MODELS[d].platform for d in POP.device])
    countries = np.array([n[-2:] for n in POP.locale_names])[POP.locale]
    for country, ios in IOS_SHARE_OF_MOBILE.items():
        phones = (countries == country) & (platform != "web")
        n = int(phones.sum())
        if n < 500:
            continue
        got = (platform[phones] == "ios").mean()
        assert abs(got - ios) <= 4 * np.sqrt(ios * (1 - ios) / n), (country, got, ios)
    us, india = countries == "US", countries == "IN"
    assert (platform[us] == "ios").mean() > 5 * (platform[india] == "ios").mean()


def test_users_upgrade_the_app_over_days_and_never_downgrade():
    users = np.arange(USERS)
    days = [POP.app_version_at(users, np.full(USERS, START_S + d * DAY_S)) for d in range(8)]
    for before, after in zip(days, days[1:], strict=False):
        assert (after >= before).all()
    upgraded = (days[-1] > days[0]).mean()
    assert 0.2 < upgraded < 0.95  # a week of fortnightly releases: many, not all, update
    # The newest release grows over the days after it ships while older ones decay.
    newest = len(POP.app_versions) - 1
    while POP.app_shipped_s[newest] > START_S + 2 * DAY_S:
        newest -= 1
    shares = [(d == newest).mean() for d in days[2:]]
    assert all(b >= a for a, b in zip(shares, shares[1:], strict=False)) and shares[-1] > 0.3


def test_most_popular_version_is_among_the_newest():
    version = POP.app_version_at(np.arange(USERS), np.full(USERS, START_S))
    counts = np.bincount(version, minlength=len(POP.app_versions))
    shipped = POP.app_shipped_s <= START_S
    assert counts.argmax() >= np.flatnonzero(shipped)[-3]
