"""Click models against their closed forms, inside Wilson intervals computed here."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.clickmodels import Cascade, PositionBased
from tests.helpers import wilson

Z = 3.3
PAGES = 200_000
ALPHA = np.array([0.45, 0.3, 0.22, 0.15, 0.1, 0.08, 0.05, 0.03])


def _simulate(model, seed=5):
    rng = np.random.default_rng(seed)
    alpha = np.broadcast_to(ALPHA, (PAGES, len(ALPHA)))
    return model.clicks(alpha, rng.random(alpha.shape))


def _inside(k: int, p: float) -> bool:
    lo, hi = wilson(k, PAGES, Z)
    return lo <= p <= hi


def test_cascade_per_rank_click_probability():
    clicks = _simulate(Cascade())
    expected = ALPHA * np.concatenate(([1.0], np.cumprod(1 - ALPHA)[:-1]))
    for r, p in enumerate(expected):
        assert _inside(int(clicks[:, r].sum()), p), (r, clicks[:, r].mean(), p)


def test_cascade_any_click_and_at_most_one_click():
    clicks = _simulate(Cascade())
    assert clicks.sum(axis=1).max() == 1
    p_any = 1 - np.prod(1 - ALPHA)
    assert _inside(int(clicks.any(axis=1).sum()), p_any)
    assert Cascade().p_any(ALPHA[None, :])[0] == pytest.approx(p_any)


def test_pbm_per_rank_click_probability():
    gamma = 1 / np.arange(1, len(ALPHA) + 1) ** 0.8
    model = PositionBased(gamma)
    clicks = _simulate(model)
    for r in range(len(ALPHA)):
        assert _inside(int(clicks[:, r].sum()), ALPHA[r] * gamma[r])
    p_any = 1 - np.prod(1 - ALPHA * gamma)
    assert _inside(int(clicks.any(axis=1).sum()), p_any)
    assert model.p_any(ALPHA[None, :])[0] == pytest.approx(p_any)


def test_models_differ_on_the_same_draws():
    """A wrong model cannot pass: PBM with full examination clicks more than cascade."""
    pbm = _simulate(PositionBased(np.ones(len(ALPHA))))
    cascade = _simulate(Cascade())
    assert pbm.sum() > 1.2 * cascade.sum()
