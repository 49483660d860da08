"""`sessionsim compare` (issue 23, part 4): one simulated stream, every engine, one table and
one figure; each engine's row is its own check of that stream."""

from __future__ import annotations

import csv

import orjson

from sessionsim.extras import installed
from sessionsim.pipeline import check_run_dir
from sessionsim.scenario import SessionizerSpec
from tests.conftest import SCENARIOS
from tests.helpers import one_line_error, run_cli

FLAGS = ("--users", "300", "--duration", "12h", "--gap", "30m", "--lateness", "2m")


def test_compare_scores_each_engine_on_one_stream(tmp_path, capsys, monkeypatch):
    out = tmp_path / "cmp"
    code, stdout, err = run_cli(
        capsys, monkeypatch, "compare", str(SCENARIOS / "late_mobile.yaml"), *FLAGS,
        "--engines", "reference,vectorized,duckdb", "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, err
    rows = orjson.loads(stdout)
    assert [r["engine"] for r in rows] == ["reference", "vectorized", "duckdb"]
    assert "engine" in err and "start-up s" in err  # the table goes to stderr with --json
    table = list(csv.DictReader((out / "compare.csv").open()))
    assert [r["engine"] for r in table] == ["reference", "vectorized", "duckdb"]
    ref, vec, duck = rows
    # The vectorised engine is the reference's sessions; DuckDB has no watermark (nothing
    # late), so on late data it differs: each row is that engine's own check.
    assert {k: ref[k] for k in ("ctr_error", "pairwise_f1", "late_events")} == {
        k: vec[k] for k in ("ctr_error", "pairwise_f1", "late_events")
    }
    assert ref["late_events"] > 0 and duck["late_events"] == 0
    spec = SessionizerSpec.model_validate({"sessionizer": "duckdb", "gap": "30m", "lateness": "2m"})
    alone = check_run_dir(out, spec)
    assert (duck["pairwise_f1"], duck["splits"], duck["merges"]) == (
        alone.pairwise_f1,
        alone.splits,
        alone.merges,
    )
    for r in rows:
        assert r["events"] > 1000 and r["events_per_s"] > 0 and r["startup_s"] >= 0
        assert (out / f"sessions.{r['engine']}.jsonl").stat().st_size > 0
    if installed("matplotlib"):
        assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_refuses_bad_engines_before_simulating(tmp_path, capsys, monkeypatch):
    out = tmp_path / "cmp"
    for engines, words in (
        ("reference,nope", ["unknown name 'nope'"]),
        ("reference,reference", ["--engines", "distinct"]),
        ("", ["--engines"]),
    ):
        code, _, err = run_cli(
            capsys, monkeypatch, "compare", "baseline", *FLAGS, "--engines", engines,
            "--out", str(out),
        )  # fmt: skip
        line = one_line_error(err)
        assert code == 2 and all(w in line for w in words), line
        assert not out.exists()
