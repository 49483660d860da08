"""The benchmark runs every case and writes the JSON keys and the plot it promises."""

from __future__ import annotations

import orjson
import pytest

from sessionsim.analysis.bench import run_bench

pytestmark = pytest.mark.slow  # end-to-end simulations


def test_bench_writes_every_promised_key_and_a_plot(tmp_path):
    json_path, plot_path = tmp_path / "bench.json", tmp_path / "bench.png"
    run_bench(False, json_path, plot_path, sizes=(150, 1, [100, 200]))
    r = orjson.loads(json_path.read_bytes())
    for key in ("null", "jsonl", "parquet", "processes_1", "processes_2", "naive_simpy"):
        assert r["simulator"][key]["events"] > 100
        assert r["simulator"][key]["events_per_s"] > 0 and r["simulator"][key]["peak_rss_mb"] > 0
    stream = r["simulator"]["jsonl"]["events"]
    for sink in ("stdout", "file", "kafka_mock", "http"):  # every copy acknowledged
        assert r["live"][sink]["events"] == stream and r["live"][sink]["events_per_s"] > 0
    for writer in ("jsonl_writer", "parquet_writer"):  # the writer alone, same events
        assert r["limits"][writer]["events"] == stream and r["limits"][writer]["events_per_s"] > 0
    expected = {
        "reference": ("records", "jsonl", "parquet"),
        "vectorized": ("records", "columns", "jsonl", "parquet"),
        "bytewax": ("records", "jsonl"),
        "bytewax_2_workers": ("records",),
        "duckdb": ("records", "columns", "jsonl", "parquet"),
        "bytewax_window": ("records",),
    }
    assert set(r["sessionizers"]) == set(expected)
    for name, sources in expected.items():
        assert set(r["sessionizers"][name]) == set(sources)
        for source in sources:
            case = r["sessionizers"][name][source]
            assert case["events"] == r["simulator"]["jsonl"]["events"]  # one stream for all
            assert case["events_per_cpu_s"] > 0
    for source in ("parquet", "jsonl"):  # the check end to end, on the same stream
        assert r["check"][source]["events"] == stream and r["check"][source]["peak_rss_mb"] > 0
    assert [s["users"] for s in r["scaling"]] == [100, 200]
    assert r["scaling"][1]["events"] > r["scaling"][0]["events"]
    assert r["missing"] == {}
    assert r["simulator"]["processes_2"]["events"] == r["simulator"]["processes_1"]["events"]
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
