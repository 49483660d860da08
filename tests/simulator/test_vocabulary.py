"""The open-ended vocabulary: a Zipf head, a tail that keeps growing, texts from indices."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from simulator import simulate_to_dir
from simulator.query_text import fields
from simulator.vocabulary import build_vocabulary
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, read_jsonl


def _queries(tmp_path, users: int) -> list[str]:
    out = tmp_path / f"u{users}"
    sc = load_scenario(SCENARIOS / "baseline.yaml", {"population.users": users, "duration": "6h"})
    simulate_to_dir(sc, out)
    return [s["query"] for s in read_jsonl(out / "truth" / "searches.jsonl")]


def test_distinct_queries_keep_growing_with_the_log(tmp_path):
    small, large = _queries(tmp_path, 1000), _queries(tmp_path, 8000)
    d_small, d_large = len(set(small)), len(set(large))
    # Heaps' law V = K n^beta: the open tail keeps beta near 1 (a closed vocabulary -> 0).
    beta = math.log(d_large / d_small) / math.log(len(large) / len(small))
    assert beta > 0.75, beta
    # AOL 2006: 10.15M unique of 21.01M new queries (0.48); a smaller log (here about 10k
    # queries) reads higher: the realism band's span, 0.30-0.70.
    assert 0.30 <= d_large / len(large) <= 0.70


def test_head_is_zipf_with_the_configured_exponent():
    sc = load_scenario(SCENARIOS / "baseline.yaml")
    v = build_vocabulary(sc)
    q = fields(v.sample(np.random.default_rng(1), 2_000_000), "base")  # typos aside
    counts = np.sort(np.fromiter(Counter(q.tolist()).values(), dtype=float))[::-1][:1000]
    slope = -np.polyfit(np.log(np.arange(1, 1001)), np.log(counts), 1)[0]
    assert abs(slope - sc.queries.zipf_exponent) < 0.05
    assert abs((q >= v.head).mean() - sc.queries.tail_share) < 4 * math.sqrt(0.25 / len(q))


def test_texts_follow_the_key_and_are_stable_across_builds():
    """The same key reads the same; different keys almost never read the same (only a
    typo that makes another word, "leicht" -> "licht"); both hold across builds."""
    sc = load_scenario(SCENARIOS / "baseline.yaml")
    v, again = build_vocabulary(sc), build_vocabulary(sc)
    queries = np.unique(v.sample(np.random.default_rng(2), 50_000))
    texts, keys = v.texts(queries), v.lexicon.key(queries).tolist()
    by_key: dict[int, str] = {}
    for key, text in zip(keys, texts, strict=True):
        assert by_key.setdefault(key, text) == text
    assert len(set(by_key.values())) > 0.997 * len(by_key)
    assert texts == again.texts(queries)
    page = v.pages(np.random.default_rng(3), queries[:50])
    same = again.pages(np.random.default_rng(3), queries[:50])
    assert (page.items == same.items).all()
    for row in page.items:  # a page never shows an item twice
        assert len(set(row.tolist())) == len(row)
