"""Properties of scoring: order does not matter, and the truth itself scores perfectly."""

from __future__ import annotations

import random
from collections import defaultdict

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import copy_run, read_jsonl, run_cli
from tests.sessionsim.scorers import VisitScorer


@st.composite
def visits_and_sessions(draw):
    """True visits (label -> event ids) and a found partition of their events."""
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=12))
    visits = {f"v{k}": [f"v{k}e{n}" for n in range(size)] for k, size in enumerate(sizes)}
    ids = [eid for events in visits.values() for eid in events]
    order = draw(st.permutations(ids))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(ids)), max_size=len(ids)))))
    bounds = [0, *cuts] if cuts and cuts[-1] == len(ids) else [0, *cuts, len(ids)]
    sessions = [list(order[a:b]) for a, b in zip(bounds, bounds[1:]) if a < b]
    return visits, sessions


def _score(visits: dict[str, list[str]], sessions: list[list[str]]):
    scorer = VisitScorer(visits)
    for session in sessions:
        scorer.found(session)
    return scorer.score()


@settings(max_examples=200, deadline=None)
@given(visits_and_sessions(), st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_the_order_of_sessions_or_of_their_events(case, rnd):
    visits, sessions = case
    shuffled = [rnd.sample(s, len(s)) for s in rnd.sample(sessions, len(sessions))]
    assert _score(visits, shuffled) == _score(visits, sessions)


@settings(max_examples=100, deadline=None)
@given(visits_and_sessions())
def test_the_true_visits_as_sessions_score_f1_one_with_no_split_or_merge(case):
    visits, _ = case
    s = _score(visits, [list(ids) for ids in visits.values()])
    assert s.pairwise_f1 == s.pairwise_precision == s.pairwise_recall == 1.0
    assert (s.splits, s.merges) == (0, 0)
    assert s.sessions_exact == s.sessions_true == s.sessions_found == len(visits)


def test_a_split_visit_does_not_score_one():
    s = _score({"a": ["a1", "a2"]}, [["a1"], ["a2"]])
    assert s.pairwise_recall == 0.0 and s.splits == 1


def _observable_counts(events: list[dict]) -> dict:
    """docs/semantics.md section 4 on one visit's delivered events (in true time order)."""
    searches = clicked = clicks = 0
    owned = None  # clicks of the current search; None before the first search
    for e in sorted(events, key=lambda e: e["true_ts"]):
        if e["type"] == "search":
            clicked += bool(owned)
            searches, owned = searches + 1, 0
        elif e["type"] == "click" and owned is not None:
            owned, clicks = owned + 1, clicks + 1
    return {"searches": searches, "clicked_searches": clicked + bool(owned), "clicks": clicks}


def test_a_perfect_sessions_file_scores_f1_one_and_zero_ctr_error(
    small_run, tmp_path, capsys, monkeypatch
):
    """Each true visit's delivered events, in shuffled order and counted as docs/semantics.md says:
    a perfect sessionizer's file. ``check --sessions`` scores it F1 = 1 and its CTR equals
    the observable CTR."""
    run_dir = copy_run(small_run, tmp_path)
    by_visit: dict[str, list[dict]] = defaultdict(list)
    for row in read_jsonl(run_dir / "truth" / "events.jsonl"):
        if row["deliveries"]:
            by_visit[row["session_id"]].append(row)
    sessions = [
        {"event_ids": [e["event_id"] for e in events], **_observable_counts(events)}
        for events in by_visit.values()
    ]
    random.Random(7).shuffle(sessions)
    path = tmp_path / "perfect.jsonl"
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sessions))
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run_dir), "--sessions", str(path))
    assert code == 0, err
    report = orjson.loads((run_dir / "report.json").read_bytes())
    assert report["pairwise_f1"] == 1.0
    assert (report["splits"], report["merges"]) == (0, 0)
    assert report["ctr_error_sessionizer"] == 0.0
