"""Results pages (issue 20, parts 3 and 4): items from a catalogue behind opaque ids, shared
by related queries; zero results and short pages as properties of the query."""

from __future__ import annotations

import numpy as np

from simulator import Simulation, vocabulary
from simulator.query_text import TERMS_P, fields, pack
from simulator.vocabulary import item_ids
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario

SIM = Simulation(load_scenario(SCENARIOS / "baseline.yaml"))
VOCAB = SIM.vocabulary
RNG = np.random.default_rng(7)


def test_item_ids_are_unique_opaque_and_give_nothing_away():
    ids = item_ids(np.arange(200_000), VOCAB.salt)
    assert len(set(ids.tolist())) == 200_000 and ids.dtype == np.dtype("S12")
    numbers = np.array([int(i, 16) for i in ids[:10].tolist()], dtype=object)
    assert np.gcd.reduce(np.abs(numbers[1:] - numbers[0]).astype(np.int64)) == 1


def test_a_querys_candidates_are_distinct_and_related_queries_share_items():
    queries = VOCAB.sample(RNG, 6000)
    items = VOCAB._candidates(queries, VOCAB.lexicon.key(queries))
    for row in items:
        assert len(set(row.tolist())) == len(row)
    topic = VOCAB.first_word(queries)
    key = VOCAB.lexicon.key(queries)
    order = np.argsort(topic, kind="stable")
    pairs = np.stack([order[:-1], order[1:]], axis=1)
    same_topic = topic[pairs[:, 0]] == topic[pairs[:, 1]]
    different_query = key[pairs[:, 0]] != key[pairs[:, 1]]
    related = pairs[same_topic & different_query]
    shuffled = np.stack([order, RNG.permutation(order)], axis=1)
    unrelated = shuffled[topic[shuffled[:, 0]] != topic[shuffled[:, 1]]]
    assert len(related) > 200 and len(unrelated) > 200

    def overlap(pairs: np.ndarray) -> float:
        return float(np.mean([len(set(items[i]) & set(items[j])) for i, j in pairs[:2000]]))

    assert overlap(related) > 1.0  # they share items of their topic
    assert overlap(unrelated) < 0.05


def test_the_same_words_are_the_same_query_and_find_the_same_page():
    """Two different bases that read the same (common one-word queries) are one query:
    the same key, the same items, the same number shown; the edit label changes nothing."""
    bases = VOCAB.head + np.arange(20_000)
    queries = pack(base=bases, lang=0)
    texts = VOCAB.texts(queries)
    seen: dict[str, int] = {}
    pair = None
    for i, text in enumerate(texts):
        if text in seen and " " not in text:
            pair = np.array([queries[seen[text]], queries[i]])
            break
        seen.setdefault(text, i)
    assert pair is not None and pair[0] != pair[1]
    key = VOCAB.lexicon.key(pair)
    assert key[0] == key[1]
    candidates = VOCAB._candidates(pair, key)  # a page ranks them with per-search noise
    assert (candidates[0] == candidates[1]).all()
    page = VOCAB.pages(np.random.default_rng(0), pair)
    assert page.shown[0] == page.shown[1]
    labelled = pair[:1] | pack(edit=5)
    assert VOCAB.texts(labelled) == VOCAB.texts(pair[:1])
    assert VOCAB.lexicon.key(labelled)[0] == key[0]


def test_first_word_matches_the_rendered_text():
    queries = VOCAB.sample(RNG, 3000) & ~pack(typo=15)  # no misspelling
    first = VOCAB.lexicon.terms(queries)[:, 0]
    for text, w in zip(VOCAB.texts(queries), first.tolist(), strict=True):
        assert text.split(" ")[0] == VOCAB.lexicon.words[0][w]


def test_zero_results_and_short_pages_are_properties_of_the_query():
    queries = VOCAB.sample(RNG, 200_000)
    shown = VOCAB.pages(RNG, queries).shown
    again = VOCAB.pages(np.random.default_rng(8), queries).shown
    assert (shown == again).all()  # the same query always finds the same number of items
    # Tail queries: P(zero) = scale * (its length's factor) * (its typo's factor), each
    # distinct query once (a repeated one repeats its outcome): the zero count is a sum of
    # Bernoulli trials with those chances (4 sigma).
    tail = fields(queries, "base") >= VOCAB.head
    tail_q = queries[tail]
    _, first = np.unique(VOCAB.lexicon.key(tail_q), return_index=True)
    one = tail_q[first]
    terms_n = (VOCAB.lexicon.terms(one) >= 0).sum(axis=1)
    typo_f = np.where(fields(one, "typo") > 0, vocabulary._TYPO_FACTOR, 1.0)
    chance = VOCAB.zero_scale * vocabulary._TERMS_FACTOR[terms_n - 1] * typo_f
    zeros = (shown[tail][first] == 0).sum()
    assert abs(zeros - chance.sum()) <= 4 * np.sqrt((chance * (1 - chance)).sum())
    # Over the head's distinct queries as typed, a fifth of that (the head factor).
    head = np.unique(pack(base=np.arange(VOCAB.head)))
    head_shown = VOCAB.pages(RNG, head).shown
    p_head = VOCAB.zero_scale * float(TERMS_P @ vocabulary._TERMS_FACTOR) * 0.2
    assert abs((head_shown == 0).mean() - p_head) <= 4 * np.sqrt(p_head / len(head))
    terms = (VOCAB.lexicon.terms(queries) >= 0).sum(axis=1)
    typo = fields(queries, "typo") > 0
    long, short_q = tail & (terms >= 4) & ~typo, tail & (terms == 1) & ~typo
    assert (shown[long] == 0).mean() > 3 * (shown[short_q] == 0).mean()
    assert (shown[tail & typo] == 0).mean() > 2 * (shown[tail & ~typo] == 0).mean()
    short_page = (shown > 0) & (shown < VOCAB.page_size)
    assert short_page[long].mean() > short_page[short_q].mean()


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
