"""What users type (issue 20, part 2): edits of the previous query inside a visit, repeats
of their own earlier queries across visits, labelled in the truth."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from simulator import simulate_to_dir
from simulator.query_plan import SLOTS, QueryHistory, Typed
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, read_jsonl


@pytest.fixture(scope="module")
def searches(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_days")
    sc = load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 600, "duration": "2d"})
    simulate_to_dir(sc, out)
    rows = read_jsonl(out / "truth" / "searches.jsonl")
    return sc, sorted(rows, key=lambda r: r["ts"])  # the file is in order of visits' ends


def test_each_edit_is_what_its_label_says(searches):
    _, rows = searches
    last = {}
    seen = defaultdict(int)
    for r in rows:
        before = last.get(r["session_id"])
        last[r["session_id"]] = r
        if r["edit"] in ("new", "repeat") or before is None:
            continue
        seen[r["edit"]] += 1
        now, then = r["query"].split(), before["query"].split()
        if r["edit"] == "specialization":
            assert len(set(now) - set(then)) >= 1 and len(set(now) & set(then)) >= 1, (then, now)
        elif r["edit"] == "generalization":
            assert set(now) < set(then) or len(now) < len(then), (then, now)
        elif r["edit"] == "correction":
            assert len(now) == len(then) and now != then, (then, now)
    assert min(seen[e] for e in ("specialization", "generalization", "swap", "correction")) > 5


def test_the_share_of_later_searches_that_edit_follows_the_setting(searches):
    """Of a visit's later searches, a share ``reformulation_prob`` edits the previous one
    (4-sigma binomial)."""
    sc, rows = searches
    visits = defaultdict(list)
    for r in rows:
        visits[r["session_id"]].append(r["edit"])
    later = [e for edits in visits.values() for e in edits[1:]]
    p, n = sc.queries.reformulation_prob, len(later)
    edited = sum(e not in ("new", "repeat") for e in later) / n
    assert abs(edited - p) <= 4 * np.sqrt(p * (1 - p) / n)


def test_a_repeat_is_a_query_the_user_typed_in_an_earlier_visit_and_reclicks(searches):
    _, rows = searches
    typed = defaultdict(dict)  # user -> query -> (visit, first clicked item)
    repeats = reclicked = judged = 0
    for r in rows:
        clicked = r.get("clicked_positions") or []
        item = r["items"][clicked[0] - 1] if clicked and r.get("items") else None
        mine = typed[r["user_id"]]
        if r["edit"] == "repeat":
            repeats += 1
            assert r["query"] in mine and mine[r["query"]][0] != r["session_id"]
            if item and mine[r["query"]][1]:
                judged += 1
                reclicked += item == mine[r["query"]][1]
        mine.setdefault(r["query"], (r["session_id"], item))
    assert repeats > 30
    assert reclicked > 0.3 * judged


def test_the_history_keeps_each_users_last_queries_known_by_a_time():
    h = QueryHistory(3)
    users = np.array([0, 0, 1, 0, 0, 0, 0])
    known = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 9.0, np.inf])  # the last: not remembered
    h.record(users, np.arange(7) + 100, np.arange(7), known)
    assert sorted(h.query[0].tolist()) == [101, 103, 104, 105]  # user 0's last SLOTS
    query, item = h.pick(np.array([2, 1]), np.array([0.5, 0.9]), now=np.array([5.0, 5.0]))
    assert query.tolist() == [-1, 102] and item.tolist() == [-1, 2]
    early = h.pick(np.zeros(200, dtype=int), np.linspace(0, 0.999, 200), now=np.full(200, 5.0))
    assert set(early[0].tolist()) == {101, 103, 104}  # 105 is known from 9.0 only
    assert SLOTS == 4


def test_typed_holds_what_was_played():
    t = Typed(2)
    for q in (5, 6, 7, 8, 9):
        t.remember(1, q)
    assert t.has(1, 9) and t.has(1, 6) and not t.has(1, 5) and not t.has(0, 9)
