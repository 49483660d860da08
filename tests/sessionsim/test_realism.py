"""`sessionsim realism`: the baseline inside every published band, a figure, clear errors."""

from __future__ import annotations

import orjson
import pytest

from sessionsim.realism.metrics import load_bands, measure_realism
from simulator import simulate_to_dir
from tests.conftest import SCENARIOS
from tests.helpers import load_scenario, one_line_error, run_cli

pytestmark = pytest.mark.slow  # end-to-end simulations


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline")
    simulate_to_dir(load_scenario(SCENARIOS / "baseline.yaml"), out)
    return out


def test_baseline_is_inside_every_band(baseline_run, tmp_path, capsys, monkeypatch):
    figure = tmp_path / "realism.png"
    code, out, _ = run_cli(capsys, monkeypatch, "realism", str(baseline_run), "--out", str(figure))
    assert code == 0
    bands = load_bands()
    # Judged on runs of six days or more, and on events delivered three times or more.
    weekly = {"churned_share", "joined_share", "dau_wau", "copy_spacing_even_share"}
    judged = len(bands) - len(weekly)
    assert f"{judged} of {len(bands)} rows inside their band; 0 out; 4 not judged" in out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = measure_realism(baseline_run).rows(bands)
    assert {r.verdict for r in rows if r.key not in weekly} == {"ok"}, [
        r for r in rows if r.verdict != "ok"
    ]
    assert {r.verdict for r in rows if r.key in weekly} == {"n/a"}
    assert {"ctr_at_1", "zipf_head_exponent", "device_order_share"} <= {r.key for r in rows}


def test_reordering_fault_is_labelled_not_failed(tmp_path):
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {
            "population.users": 300,
            "duration": "6h",
            "delivery.parallel_requests": 4,
            "delivery.delay": {"dist": "lognormal", "median": "2s", "sigma": 1.5},
        },
    )
    simulate_to_dir(sc, tmp_path)
    realism = measure_realism(tmp_path)
    assert realism.values["device_order_share"] < 1.0
    (row,) = [r for r in realism.rows(load_bands()) if r.key == "device_order_share"]
    assert row.verdict == "fault"


def test_check_writes_a_realism_block(baseline_run, tmp_path, capsys, monkeypatch):
    from tests.helpers import copy_run

    run = copy_run(baseline_run, tmp_path)
    code, _, _ = run_cli(capsys, monkeypatch, "check", str(run))
    assert code == 0
    report = orjson.loads((run / "report.json").read_bytes())
    assert report["realism"]["ctr_at_1"]["verdict"] == "ok"
    assert set(report["realism"]) == {b.key for b in load_bands()}


@pytest.mark.parametrize(
    "bands, needle",
    [("- key: x\n", "expected a list"), ("[1, 2\n", "expected a list")],
)
def test_bad_bands_file_is_one_line_exit_2(
    baseline_run, tmp_path, capsys, monkeypatch, bands, needle
):
    path = tmp_path / "bands.yaml"
    path.write_text(bands)
    code, _, err = run_cli(capsys, monkeypatch, "realism", str(baseline_run), "--bands", str(path))
    assert code == 2
    line = one_line_error(err)
    assert str(path) in line and needle in line


def test_missing_run_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, "realism", str(tmp_path / "nope"))
    assert code == 2
    assert "summary.json" in one_line_error(err)


def test_check_without_realism_skips_the_block(baseline_run, tmp_path, capsys, monkeypatch):
    from tests.helpers import copy_run

    run = copy_run(baseline_run, tmp_path)
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run), "--no-realism")
    assert code == 0, err
    assert "realism" not in orjson.loads((run / "report.json").read_bytes())


def test_an_unrealistic_client_mix_reads_out_on_the_bands_it_breaks(tmp_path):
    """iPhones for everyone (India included), and then yesterday's Faker strings and a
    downgrade written into the events: each reads OUT on its own band, judged from files."""
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {
            "population.users": 3000,
            "population.locales": {"en_US": 1, "hi_IN": 1},
            "population.platforms": {"ios": 0.95, "android": 0.05},
            "population.mobile_split": "scenario",
        },
    )
    simulate_to_dir(sc, tmp_path)
    verdicts = {r.key: r.verdict for r in measure_realism(tmp_path).rows(load_bands())}
    assert verdicts["ios_share_in"] == verdicts["ios_share_us"] == "OUT"
    assert verdicts["current_client_share"] == "ok"
    events = tmp_path / "events.jsonl"
    rows = [orjson.loads(line) for line in events.read_bytes().splitlines()]
    opens = [r for r in rows if r["type"] == "app_open"]
    for r in opens[::10]:  # one in ten from an impossible client
        r["device"] = "iPhone; CPU iPhone OS 8_4_1 like Mac OS X"
    first = {}
    for r in opens:  # every user's later opens on an older version than their first
        if r["user_id"] in first:
            r["app_version"] = "1.0.0"
        first.setdefault(r["user_id"], r)
    events.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    verdicts = {r.key: r.verdict for r in measure_realism(tmp_path).rows(load_bands())}
    assert verdicts["current_client_share"] == verdicts["version_downgrade_share"] == "OUT"


def test_arithmetic_item_ids_and_coin_flip_zero_results_read_out(baseline_run, tmp_path):
    """Yesterday's pages (``base + k * 7919`` ids, zero results a 4% coin flip per search)
    written into a copy of the baseline's truth: both bands read OUT."""
    import shutil

    import numpy as np

    run = tmp_path / "run"
    shutil.copytree(baseline_run, run)
    path = run / "truth" / "searches.jsonl"
    rng = np.random.default_rng(1)
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    for r in rows:
        if r["results"] is None:
            continue
        base = int(rng.integers(0, 800_000))
        r["results"] = 0 if rng.random() < 0.04 else 10
        r["items"] = [f"it{base + k * 7919:06d}" for k in range(r["results"])] or None
        clicks = r.get("clicked_positions") or []
        r["clicked_positions"] = [p for p in clicks if p <= r["results"]] or None
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    verdicts = {r.key: r.verdict for r in measure_realism(run).rows(load_bands())}
    assert verdicts["page_id_step_share"] == verdicts["zero_result_tail_ratio"] == "OUT"
    assert verdicts["short_page_share"] == "OUT"


def test_an_unrealistic_week_reads_out_on_the_bands_it_breaks(tmp_path):
    """Everyone daily, busiest at 3 AM local time, and every click left after 5 s: the
    stickiness, local-peak, night and dwell bands read OUT; the rest of the day's shape
    is not what they judge."""
    night_owls = [1.0] * 24
    night_owls[2:6] = [6.0] * 4
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        {
            "population.users": 150,
            "duration": "7d",
            "population.visits_per_day": {"median": 12.0, "sigma": 0.1},
            "population.locales": {"de_DE": 1, "ja_JP": 1},
            "arrivals.hourly_weights": night_owls,
            "visit.dwell_time": {"dist": "constant", "value": "5s"},
        },
    )
    simulate_to_dir(sc, tmp_path)
    realism = measure_realism(tmp_path)
    verdicts = {r.key: r.verdict for r in realism.rows(load_bands())}
    assert 2 <= realism.values["local_peak_hour"] <= 5
    for key in ("dau_wau", "local_peak_hour", "night_share", "long_dwell_share"):
        assert verdicts[key] == "OUT", (key, realism.values[key])
    # The figure draws every band and marks what is OUT, titled with the run.
    from sessionsim.realism.figure import plot_realism

    svg = plot_realism(realism, "realism", "svg", realism.rows(load_bands())).decode()
    assert "150 users, 7 d from 2026-01-05, seed 7" in svg
    assert svg.count(">OUT<") >= 4 and " OUT</text>" in svg  # each marked, and counted


def test_sequential_ids_a_latency_floor_and_evenly_spaced_copies_read_out(baseline_run, tmp_path):
    """Yesterday's ids (``u0000000``...), a 2 ms floor under one search in twenty, and
    copies re-sent at a fixed interval, written into a copy of the baseline: each reads
    OUT on its own band, judged from files."""
    import shutil
    from datetime import UTC, datetime, timedelta

    run = tmp_path / "run"
    shutil.copytree(baseline_run, run)
    before = measure_realism(run).values
    assert before["user_id_density"] < 1e-3 and before["results_gap_spike"] < 0.01

    def stamp(text: str, ms: int) -> str:
        at = datetime.fromisoformat(text) + timedelta(milliseconds=ms)
        return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    events_path, truth_path = run / "events.jsonl", run / "truth" / "events.jsonl"
    events = [orjson.loads(line) for line in events_path.read_bytes().splitlines()]
    truth = [orjson.loads(line) for line in truth_path.read_bytes().splitlines()]
    number: dict[str, str] = {}
    for e in events:
        e["user_id"] = number.setdefault(e["user_id"], f"u{len(number):07d}")
    searches = 0
    for prev, row in zip(truth, truth[1:], strict=False):
        if prev["type"] == "search" and row["type"] == "results":
            searches += 1
            if searches % 20 == 0:
                row["ts"] = stamp(prev["ts"], 2)
    resent = {r["event_id"] for r in truth[:3000:30]}
    for r in truth:
        if r["event_id"] in resent:
            r["deliveries"] = 3
    copies = [
        {**e, "received_at": stamp(e["received_at"], c * 2000)}
        for e in events
        if e["event_id"] in resent
        for c in (1, 2)
    ]
    events_path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events + copies))
    truth_path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in truth))
    realism = measure_realism(run)
    verdicts = {r.key: r.verdict for r in realism.rows(load_bands())}
    for key in ("user_id_density", "results_gap_spike", "copy_spacing_even_share"):
        assert verdicts[key] == "OUT", (key, realism.values[key])


def test_realism_json_is_the_rows_and_nothing_else(baseline_run, tmp_path, capsys, monkeypatch):
    """``--json``: stdout is one JSON document, every row valid against the schema of
    ``RealismRow``, the same rows the table shows; the figure's note goes to stderr."""
    import jsonschema
    import msgspec

    from sessionsim.realism import RealismRow

    figure = tmp_path / "r.svg"
    code, out, err = run_cli(
        capsys, monkeypatch, "realism", str(baseline_run), "--json", "--out", str(figure)
    )
    assert code == 0, err
    rows = orjson.loads(out)
    schema = msgspec.json.schema(list[RealismRow])
    jsonschema.validate(rows, schema)
    measured = measure_realism(baseline_run).rows(load_bands())
    assert [r["key"] for r in rows] == [r.key for r in measured]
    assert [r["verdict"] for r in rows] == [r.verdict for r in measured]
    assert "figure written" in err and "figure written" not in out


@pytest.mark.parametrize(
    "suffix, magic", [(".svg", b"<?xml"), (".pdf", b"%PDF"), (".png", b"\x89PNG")]
)
def test_the_figure_format_follows_the_suffix(
    baseline_run, tmp_path, capsys, monkeypatch, suffix, magic
):
    figure = tmp_path / f"realism{suffix}"
    code, _, err = run_cli(capsys, monkeypatch, "realism", str(baseline_run), "--out", str(figure))
    assert code == 0, err
    assert figure.read_bytes().startswith(magic)


def test_a_figure_suffix_that_names_no_format_is_one_line(
    baseline_run, tmp_path, capsys, monkeypatch
):
    figure = tmp_path / "realism.jpeg"
    code, _, err = run_cli(capsys, monkeypatch, "realism", str(baseline_run), "--out", str(figure))
    assert code == 2 and ".png, .svg or .pdf" in one_line_error(err)
    assert not figure.exists()


def test_every_option_reads_a_sessionsim_environment_variable(baseline_run, capsys, monkeypatch):
    monkeypatch.setenv("SESSIONSIM_REALISM_JSON", "1")
    code, out, err = run_cli(capsys, monkeypatch, "realism", str(baseline_run))
    assert code == 0, err
    assert orjson.loads(out)[0]["key"] == "ctr_at_1"  # JSON, as --json gives
