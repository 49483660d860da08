"""Realism's column passes equal the plain per-row definitions, across batch boundaries."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sessionsim.realism.metrics import _device_order, _rank_variety, _searches

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms


def test_device_order_and_hours_equal_a_per_event_loop(tmp_path):
    rng = np.random.default_rng(3)
    n = 150_000  # more than two Parquet batches: users span batches
    users = rng.integers(0, 5_000, n)
    ts = (
        T0 + np.cumsum(rng.integers(0, 200, n)) - rng.integers(0, 2, n) * rng.integers(0, 50_000, n)
    )
    path = tmp_path / "events.parquet"
    table = pa.table(
        {
            "user_id": pa.array([f"u{u}" for u in users.tolist()]),
            "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        }
    )
    pq.write_table(table, path, row_group_size=40_000)
    last: dict[int, int] = {}
    disordered: set[int] = set()
    per_hour: dict[int, int] = defaultdict(int)
    for u, t in zip(users.tolist(), ts.tolist()):
        per_hour[(t - T0) // 3_600_000] += 1
        if t < last.get(u, t):
            disordered.add(u)
        else:
            last[u] = t
    share, hours = _device_order(path, T0)
    assert 0 < len(disordered) < len(last)
    assert share == 1.0 - len(disordered) / len(last)
    assert hours.tolist() == [per_hour.get(h, 0) for h in range(len(hours))]
    assert len(hours) == max(h for h in per_hour if h >= 0) + 1


def test_rank_variety_counts_every_search(tmp_path):
    rng = np.random.default_rng(4)
    rows, ranks_of, shows = [], defaultdict(set), defaultdict(int)
    for _ in range(30_000):  # more than the 20,000 searches the row reader looked at
        query = f"q{rng.integers(0, 300)}"
        items = [f"it{k}" for k in rng.integers(0, 40, rng.integers(0, 11)).tolist()]
        rows.append({"query": query, "results": len(items), "items": items or None})
        for r, item in enumerate(items):
            shows[(query, item)] += 1
            ranks_of[(query, item)].add(r)
    path = tmp_path / "searches.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    repeated = [k for k, n in shows.items() if n >= 2]
    expected = sum(len(ranks_of[k]) >= 2 for k in repeated) / len(repeated)
    assert _searches(path)[0]["rank_variety"] == expected
    assert _rank_variety([]) is None
