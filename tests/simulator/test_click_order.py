"""Clicks as people make them (issue 20, part 5): sometimes out of rank order, sometimes on
an item already clicked, at the scenario's stated rates."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import simulate_to_dir
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, read_jsonl

pytestmark = pytest.mark.slow  # an end-to-end simulation


@pytest.fixture(scope="module")
def clicked(tmp_path_factory):
    out = tmp_path_factory.mktemp("clicks")
    sc = load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 4000})
    simulate_to_dir(sc, out)
    rows = read_jsonl(out / "truth" / "searches.jsonl")
    return sc.clicks, [r["clicked_positions"] for r in rows if r.get("clicked_positions")]


def test_a_share_of_two_click_searches_clicks_out_of_rank_order(clicked):
    """Of searches with two distinct ranks clicked, a shuffled order is reversed half the
    time: out_of_order_prob / 2 of them (4-sigma binomial)."""
    clicks, lists = clicked
    two = [c for c in lists if len(set(c)) == 2]
    first_seen = [sorted(set(c), key=c.index) for c in two]  # order of first clicks
    reversed_ = np.mean([f[0] > f[1] for f in first_seen])
    p, n = clicks.out_of_order_prob / 2, len(two)
    assert n > 300
    assert abs(reversed_ - p) <= 4 * np.sqrt(p * (1 - p) / n)


def test_a_click_is_followed_by_another_on_the_same_item_at_the_stated_rate(clicked):
    """Each model click is repeated with repeat_prob, right after it: a share
    repeat_prob / (1 + repeat_prob) of all clicks repeat the one before (4 sigma)."""
    clicks, lists = clicked
    model_clicks = sum(len(c) for c in lists)
    repeats = sum(sum(b == a for a, b in zip(c, c[1:], strict=False)) for c in lists)
    p = clicks.repeat_prob
    originals = model_clicks - repeats
    assert abs(repeats / originals - p) <= 4 * np.sqrt(p * (1 - p) / originals)
