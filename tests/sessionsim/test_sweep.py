"""`sessionsim sweep`: files, plot, and agreement with a direct check."""

from __future__ import annotations

import csv

import orjson
import pytest

from tests.conftest import SCENARIOS
from tests.helpers import SCORE_KEYS, run_cli

pytestmark = pytest.mark.slow  # end-to-end simulations


def test_sweep_writes_csv_json_png_and_matches_check(tmp_path, capsys, monkeypatch):
    out = tmp_path / "sweep"
    code, stdout, err = run_cli(
        capsys,
        monkeypatch,
        "sweep",
        str(SCENARIOS / "long_pauses.yaml"),
        "--users",
        "200",
        "--duration",
        "12h",
        "--gap",
        "1m,30m,2h",
        "--lateness",
        "0s,1m",
        "--out",
        str(out),
    )
    assert code == 0, err
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(r["gap"], r["lateness"]) for r in rows] == [
        ("1m", "0s"),
        ("30m", "0s"),
        ("2h", "0s"),
        ("1m", "1m"),
        ("30m", "1m"),
        ("2h", "1m"),
    ]
    sweep = orjson.loads((out / "sweep.json").read_bytes())
    assert len(sweep["rows"]) == 6 and sweep["recommendation"] in stdout
    best = sweep["best"]
    within = [r for r in sweep["rows"] if r["emission_delay_p99_s"] <= sweep["max_delay_s"]]
    assert best["pairwise_f1"] == max(r["pairwise_f1"] for r in within)
    png = (out / "sweep.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    # Longer gaps split less and merge more.
    by_gap = {r["gap"]: r for r in sweep["rows"] if r["lateness"] == "1m"}
    assert by_gap["1m"]["split_rate"] > by_gap["30m"]["split_rate"] > by_gap["2h"]["split_rate"]
    assert by_gap["1m"]["merge_rate"] <= by_gap["30m"]["merge_rate"] <= by_gap["2h"]["merge_rate"]
    # A setting's metrics equal a direct check at that setting.
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(out), "--gap", "30m", "--lateness", "1m"
    )
    assert code == 0, err
    direct = orjson.loads((out / "report.json").read_bytes())
    row = next(r for r in sweep["rows"] if r["gap"] == "30m" and r["lateness"] == "1m")
    for key in ("ctr_measured", "ctr_error", "late_events", "duplicates", *SCORE_KEYS):
        assert row[key] == direct[key], key


def test_sweep_rejects_a_bad_gap_list(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "sweep",
        str(SCENARIOS / "baseline.yaml"),
        "--gap",
        "1m,soon",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2 and err.strip().startswith("sessionsim: --gap:") and "soon" in err
    assert not (tmp_path / "o").exists()


def test_sweep_rows_do_not_depend_on_the_number_of_workers(tmp_path):
    from sessionsim.analysis.sweep import run_sweep
    from sessionsim.scenario import RunScenario, SessionizerSpec
    from tests.helpers import load_scenario

    sc = load_scenario(
        SCENARIOS / "late_mobile.yaml",
        {"population.users": 150, "duration": "8h"},
        model=RunScenario,
    )
    args = ([60.0, 1800.0, 7200.0], [0.0, 3600.0], SessionizerSpec())
    one = run_sweep(sc, tmp_path / "one", *args, workers=1)
    two = run_sweep(sc, tmp_path / "two", *args, workers=2)
    assert one == two and len(one) == 6
    assert (tmp_path / "one" / "sweep.csv").read_bytes() == (
        tmp_path / "two" / "sweep.csv"
    ).read_bytes()


def test_sweep_varies_the_watermark_mode_as_a_third_axis(tmp_path, capsys, monkeypatch):
    out = tmp_path / "sweep"
    code, stdout, err = run_cli(
        capsys,
        monkeypatch,
        "sweep",
        str(SCENARIOS / "late_mobile.yaml"),
        "--users",
        "300",
        "--duration",
        "8h",
        "--gap",
        "10m,30m",
        "--lateness",
        "1m",
        "--watermark",
        "global,per-user",
        "--out",
        str(out),
    )
    assert code == 0, err
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(r["gap"], r["watermark"]) for r in rows] == [
        ("10m", "global"),
        ("30m", "global"),
        ("10m", "per_user"),
        ("30m", "per_user"),
    ]
    late = {(r["gap"], r["watermark"]): int(r["late_events"]) for r in rows}
    assert late[("30m", "per_user")] < late[("30m", "global")]  # late phones, in order
    code, _, err = run_cli(
        capsys, monkeypatch, "sweep", "baseline", "--watermark", "global,user", "--out", "o"
    )
    assert code == 2 and "--watermark" in err


def test_the_sweep_measures_what_lateness_costs_and_recommends_within_a_delay(tmp_path):
    from sessionsim.analysis.sweep import recommendation, run_sweep
    from sessionsim.scenario import RunScenario, SessionizerSpec
    from tests.helpers import load_scenario

    sc = load_scenario(
        SCENARIOS / "late_mobile.yaml",
        {"population.users": 400, "duration": "12h"},
        model=RunScenario,
    )
    rows = run_sweep(sc, tmp_path / "s", [300.0, 1800.0], [0.0, 600.0, 3600.0], SessionizerSpec())
    for r in rows:
        # A session is final only once the watermark passes end + gap: most wait that long.
        assert r.emission_delay_p50_s >= r.gap_s + r.lateness_s
        assert r.emission_delay_p99_s >= r.emission_delay_p50_s and r.peak_events_held > 0
    by = {(r.gap_s, r.lateness_s): r for r in rows}
    assert by[(300.0, 3600.0)].emission_delay_p50_s > by[(300.0, 0.0)].emission_delay_p50_s
    assert by[(300.0, 3600.0)].peak_events_held > by[(300.0, 0.0)].peak_events_held
    # Lateness buys accuracy (fewer late events) and costs delay: the objective decides.
    late = [by[(1800.0, x)].late_events for x in (0.0, 600.0, 3600.0)]
    assert late[0] > late[1] > late[2]
    best = max(rows, key=lambda r: r.pairwise_f1)
    assert best.lateness_s > 0
    assert f"gap {best.gap}, lateness {best.lateness} " in recommendation(rows, 24 * 3600.0)
    tight = recommendation(rows, 900.0)
    assert "lateness 1h" not in tight and "p99 emission delay <= 15m" in tight
    front = [r for r in rows if r.pareto]
    for r in rows:
        assert r.pareto or any(
            o.pairwise_f1 >= r.pairwise_f1 and o.emission_delay_p99_s <= r.emission_delay_p99_s
            for o in front
        )
