"""The bench figure (issue 22, part 6): producing and consuming cases on separate axes,
coloured by kind with a legend each, and the scaling panel with one legend for both axes."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from sessionsim.analysis.bench import plot_bench  # noqa: E402


def _case(rate: float) -> dict:
    return {"events": 1000, "events_per_s": rate, "events_per_cpu_s": rate, "peak_rss_mb": 90}


def test_the_bench_figure_separates_producing_from_consuming_with_legends():
    results = {
        "machine": {"cpus": 2},
        "users": 8192,
        "repetitions": 1,
        "simulator": {"jsonl": _case(5e4)},
        "live": {"http": _case(4e4)},
        "limits": {"jsonl_writer": _case(3e5)},
        "sessionizers": {"duckdb": {"parquet": _case(4e5), "records": _case(2e5)}},
        "check": {"jsonl": _case(2e5)},
        "scaling": [
            {"users": 2000, "events_per_s": 1e5, "peak_rss_mb": 100},
            {"users": 10000, "events_per_s": 9e4, "peak_rss_mb": 150},
        ],
    }
    svg = plot_bench(results, "svg").decode()
    for text in (
        "producing events",
        "consuming events",
        "simulator into",
        "live sink",
        "writer alone (limit)",
        "reads parquet",
        "reads records",
        "check (read, sessionize, score)",
        "events/s (left)",
        "peak RSS, MB (right)",
        "8,192 users",
    ):
        assert text in svg, text
