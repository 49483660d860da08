"""Click models against their closed forms: the published check values, and seeded samples
inside Wilson intervals (for probabilities) or normal intervals (for means) computed here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.clickmodels import (
    Cascade,
    DependentClick,
    DynamicBayesian,
    PositionBased,
    expected_clicks,
)
from tests.helpers import wilson

Z = 4.0
PAGES = 200_000
ALPHA = np.array([0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.3, 0.25, 0.25, 0.2])
SAT = np.array([0.5, 0.45, 0.4, 0.4, 0.35, 0.35, 0.3, 0.3, 0.3, 0.3])
LAMBDA = np.array([0.6, 0.55, 0.5, 0.5, 0.45, 0.45, 0.4, 0.4, 0.4, 0.4])
GAMMA_PBM = 1.0 / np.arange(1, 11) ** 0.9

MODELS = {
    "dbn": DynamicBayesian(0.9),
    "dcm": DependentClick(LAMBDA),
    "pbm": PositionBased(GAMMA_PBM),
    "cascade": Cascade(),
}


def _page():
    return ALPHA[None, :], SAT[None, :]


def _simulate(model, seed=5):
    rng = np.random.default_rng(seed)
    shape = (PAGES, len(ALPHA))
    return model.clicks(np.broadcast_to(ALPHA, shape), np.broadcast_to(SAT, shape), rng)


def _inside(k: int, p: float) -> bool:
    lo, hi = wilson(k, PAGES, Z)
    return lo <= p <= hi


def test_dbn_check_values():
    model, (a, s) = MODELS["dbn"], _page()
    per_rank = (model.examination(a, s) * a)[0]
    assert per_rank[:3] == pytest.approx([0.600, 0.315, 0.198], abs=5e-4)
    assert model.p_any(a, s)[0] == pytest.approx(0.9176, abs=5e-5)
    assert expected_clicks(model, a, s)[0] == pytest.approx(1.5094, abs=5e-5)


def test_dcm_and_pbm_check_values():
    a, s = _page()
    assert expected_clicks(MODELS["dcm"], a, s)[0] == pytest.approx(1.840, abs=5e-4)
    assert expected_clicks(MODELS["pbm"], a, s)[0] == pytest.approx(1.443, abs=5e-4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sampled_clicks_per_rank_match_closed_form(name):
    model, (a, s) = MODELS[name], _page()
    clicks = _simulate(model)
    expected = (model.examination(a, s) * a)[0]
    for r, p in enumerate(expected):
        assert _inside(int(clicks[:, r].sum()), p), (name, r, clicks[:, r].mean(), p)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sampled_any_click_and_mean_clicks_match_closed_form(name):
    model, (a, s) = MODELS[name], _page()
    clicks = _simulate(model)
    assert _inside(int(clicks.any(axis=1).sum()), model.p_any(a, s)[0]), name
    per_page = clicks.sum(axis=1)
    mean = expected_clicks(model, a, s)[0]
    assert abs(per_page.mean() - mean) < Z * per_page.std() / math.sqrt(PAGES), name


def test_cascade_clicks_at_most_once_and_multi_click_models_do_not():
    assert _simulate(MODELS["cascade"]).sum(axis=1).max() == 1
    for name in ("dbn", "dcm", "pbm"):
        assert _simulate(MODELS[name]).sum(axis=1).max() > 2, name


def test_dbn_satisfaction_stops_examination():
    """A wrong model cannot pass: full satisfaction leaves only first clicks."""
    a, _ = _page()
    model = DynamicBayesian(1.0)
    sat = np.ones_like(a)
    assert expected_clicks(model, a, sat)[0] == pytest.approx(model.p_any(a, sat)[0])
    clicks = model.clicks(
        np.broadcast_to(a, (1000, 10)), np.broadcast_to(sat, (1000, 10)), np.random.default_rng(2)
    )
    assert clicks.sum(axis=1).max() == 1
