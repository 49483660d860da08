"""The ledger's click truth: latent values per shown rank, and an identifiable model."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from simulator import simulate_to_dir
from simulator.clickmodels import DynamicBayesian
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, read_jsonl

pytestmark = pytest.mark.slow  # end-to-end simulations


def test_ledger_latents_reproduce_each_pages_click_probability(small_run):
    sc = load_scenario(small_run / "scenario.yaml")
    model = DynamicBayesian(sc.clicks.continuation)
    shown = [s for s in read_jsonl(small_run / "truth" / "searches.jsonl") if s.get("items")]
    assert len(shown) > 200
    for s in shown:
        n = len(s["items"])
        assert len(s["examination"]) == len(s["attractiveness"]) == len(s["satisfaction"]) == n
        assert len(s["clicked_positions"]) == s["clicks"]
        a = np.array([s["attractiveness"]])
        sat = np.array([s["satisfaction"]])
        assert model.p_any(a, sat)[0] == pytest.approx(s["p_click"], abs=2e-3)
        assert model.examination(a, sat)[0] == pytest.approx(s["examination"], abs=2e-3)
    # Pages vary: some item is shown at several ranks for one query.
    ranks = {}
    for s in shown:
        for r, item in enumerate(s["items"]):
            ranks.setdefault((s["query"], item), set()).add(r)
    assert sum(len(v) > 1 for v in ranks.values()) > 50


def _pbm_em(pair: np.ndarray, rank: np.ndarray, clicked: np.ndarray, ranks: int) -> np.ndarray:
    """Fit a position-based model by EM; return the examination curve with gamma_1 = 1."""
    gamma = np.full(ranks, 0.5)
    alpha = np.full(pair.max() + 1, 0.2)
    shown_pair = np.bincount(pair, minlength=len(alpha))
    shown_rank = np.bincount(rank, minlength=ranks)
    for _ in range(200):
        g, a = gamma[rank], alpha[pair]
        none = 1.0 - g * a
        alpha = np.bincount(pair, clicked + (1 - clicked) * (1 - g) * a / none, len(alpha))
        alpha /= np.maximum(shown_pair, 1)
        gamma = np.bincount(rank, clicked + (1 - clicked) * g * (1 - a) / none, ranks)
        gamma /= shown_rank
    return gamma / gamma[0]


@pytest.fixture(scope="module")
def pbm_impressions(tmp_path_factory):
    """Impressions of a 20k-user PBM run, for (query, item) pairs shown at least 10 times."""
    out = tmp_path_factory.mktemp("pbm")
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {"population.users": 20_000, "duration": "12h", "clicks.model": "pbm"},
    )
    simulate_to_dir(sc, out)
    pairs: dict[tuple[str, str], int] = {}
    rows = []
    with open(out / "truth" / "searches.jsonl", "rb") as f:
        for line in f:
            s = orjson.loads(line)
            clicked = set(s.get("clicked_positions", ()))
            for r, item in enumerate(s.get("items", ())):
                rows.append((pairs.setdefault((s["query"], item), len(pairs)), r, r + 1 in clicked))
    pair, rank, clicked = np.array(rows).T
    keep = np.bincount(pair)[pair] >= 10
    return pair[keep], rank[keep], clicked[keep].astype(float), sc.clicks.examination_decay


def test_em_recovers_the_configured_examination_curve(pbm_impressions):
    pair, rank, clicked, decay = pbm_impressions
    ranks = int(rank.max()) + 1
    fitted = _pbm_em(pair, rank, clicked, ranks)
    configured = 1.0 / np.arange(1, ranks + 1) ** decay
    clicks = np.bincount(rank, clicked, ranks)
    for r in range(1, ranks):  # a ratio of two rates: relative SE ~ sqrt(1/k_r + 1/k_1)
        tolerance = 4 * math.sqrt(1 / clicks[r] + 1 / clicks[0])
        assert abs(fitted[r] / configured[r] - 1) < tolerance, (r + 1, fitted[r], configured[r])
    flatter = 1.0 / np.arange(1, ranks + 1) ** (decay / 2)  # a wrong curve is told apart
    assert abs(fitted[-1] / flatter[-1] - 1) > 4 * math.sqrt(1 / clicks[-1] + 1 / clicks[0])
