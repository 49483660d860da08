"""Results pages (issue 20, parts 3 and 4): items from a catalogue behind opaque ids, shared
by related queries; zero results and short pages as properties of the query."""

from __future__ import annotations

import numpy as np

from simulator import Simulation
from simulator.vocabulary import item_ids
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario

VOCAB = Simulation(load_scenario(SCENARIOS / "baseline.yaml")).vocabulary
RNG = np.random.default_rng(7)


def test_item_ids_are_unique_opaque_and_give_nothing_away():
    ids = item_ids(np.arange(200_000), VOCAB.salt)
    assert len(set(ids.tolist())) == 200_000 and ids.dtype == np.dtype("S12")
    numbers = np.array([int(i, 16) for i in ids[:10].tolist()], dtype=object)
    assert np.gcd.reduce(np.abs(numbers[1:] - numbers[0]).astype(np.int64)) == 1


def test_a_querys_candidates_are_distinct_and_related_queries_share_items():
    queries = np.concatenate([np.arange(VOCAB.head), VOCAB.head + RNG.integers(0, 10**8, 2000)])
    items = VOCAB._candidates(queries)
    for row in items:
        assert len(set(row.tolist())) == len(row)
    word = VOCAB.first_word(queries)
    order = np.argsort(word, kind="stable")
    same = word[order][1:] == word[order][:-1]
    pairs = np.stack([order[:-1], order[1:]], axis=1)
    related, unrelated = pairs[same], np.stack([order[:-1], order[::-1][:-1]], axis=1)
    unrelated = unrelated[word[unrelated[:, 0]] != word[unrelated[:, 1]]]
    assert len(related) > 200 and len(unrelated) > 200

    def overlap(pairs: np.ndarray) -> float:
        return float(np.mean([len(set(items[i]) & set(items[j])) for i, j in pairs[:2000]]))

    assert overlap(related) > 1.0  # they share items of their topic
    assert overlap(unrelated) < 0.05


def test_first_word_matches_the_rendered_text():
    queries = np.concatenate([np.arange(VOCAB.head), VOCAB.head + RNG.integers(0, 10**8, 500)])
    first = VOCAB.first_word(queries)
    for q, w in zip(queries.tolist(), first.tolist(), strict=True):
        assert VOCAB.text(q).split(" ")[0] == VOCAB.words[w]


def test_zero_results_and_short_pages_are_properties_of_the_query():
    queries = VOCAB.sample(RNG, 200_000)
    shown = VOCAB.pages(RNG, queries).shown
    again = VOCAB.pages(np.random.default_rng(8), queries).shown
    assert (shown == again).all()  # the same query always finds the same number of items
    tail = queries >= VOCAB.head
    # One-off tail queries: the zero share is their per-query chance (4-sigma binomial).
    n = int(tail.sum())
    p = VOCAB.zero_tail
    assert abs((shown[tail] == 0).mean() - p) <= 4 * np.sqrt(p * (1 - p) / n)
    assert (shown[tail] == 0).mean() > 4 * (shown[~tail] == 0).mean()
    short = (shown > 0) & (shown < VOCAB.page_size)
    assert short[tail].mean() > 0.2 and not short[~tail].any()


def test_no_click_lands_beyond_a_short_page(tmp_path):
    from simulator import simulate_to_dir
    from tests.helpers import read_jsonl

    simulate_to_dir(load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 400}), tmp_path)
    searches = read_jsonl(tmp_path / "truth" / "searches.jsonl")
    short = [s for s in searches if s["results"] and s["results"] < 10]
    assert short
    for s in searches:
        if s["results"]:
            assert len(s["items"]) == len(s["examination"]) == s["results"]
            assert all(p <= s["results"] for p in s["clicked_positions"])
