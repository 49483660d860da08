"""The tutorial's dataflow, as a user plugin, on the tutorial's own sample and on a run."""

from __future__ import annotations

import json

import pytest

from sessionizer import CtrTotals, Event, Late, Session, SessionConfig, resolve, searches_of
from sessionizer.runloop import outputs_of
from tests.helpers import copy_run, run_cli

pytestmark = pytest.mark.slow  # end-to-end simulations

pytest.importorskip("bytewax")

PLUGIN = "examples.search_session:TutorialSessionizer"


def _sample() -> list[Event]:
    """The tutorial's 12 events, one second apart, in its order."""
    rows = [
        ("app_open", 1, {}),
        ("search", 1, {}),  # dogs
        ("results", 1, {"items": 3}),  # fido, rover, buddy
        ("click", 1, {"position": 2}),  # rover
        ("search", 1, {}),  # cats
        ("results", 1, {"items": 3}),  # fluffy, burrito, kathy
        ("click", 1, {"position": 1}),  # fluffy
        ("app_open", 2, {}),
        ("click", 1, {"position": 3}),  # kathy
        ("search", 2, {}),  # fruit
        ("app_close", 1, {}),
        ("app_close", 2, {}),
    ]
    return [
        Event(event_id=f"e{i}", type=kind, user_id=str(user), ts=1000 * i, **extra)
        for i, (kind, user, extra) in enumerate(rows)
    ]


def test_the_tutorials_sample_gives_its_per_search_ctr_and_totals():
    sz = resolve(PLUGIN)(SessionConfig(gap_ms=10_000))
    out = list(outputs_of(sz, iter(_sample())))
    sessions = [o for o in out if isinstance(o, Session)]
    assert not [o for o in out if isinstance(o, Late)]
    assert sorted((s.user_id, len(s.events)) for s in sessions) == [("1", 9), ("2", 3)]
    queries = {"e1": "dogs", "e4": "cats", "e9": "fruit"}
    assert sorted((queries[i], ctr) for i, ctr in sz.search_ctr) == [
        ("cats", 1.0),
        ("dogs", 1.0),
        ("fruit", 0.0),
    ]
    totals = CtrTotals()
    for s in sessions:
        totals.add(searches_of(s.events))
    assert (totals.searches, totals.clicked_searches, totals.clicks) == (3, 2, 3)
    assert (sz.counts.accepted, sz.counts.late, sz.counts.duplicates) == (12, 0, 0)


def test_plugged_in_by_module_path_and_checked_against_the_truth(
    small_run, tmp_path, capsys, monkeypatch
):
    run = copy_run(small_run, tmp_path)
    code, out, err = run_cli(
        capsys, monkeypatch, "check", str(run), "--sessionizer", PLUGIN, "--no-realism"
    )
    assert code == 0, err
    report = json.loads((run / "report.json").read_text())
    assert report["sessionizer"] == PLUGIN and report["searches_measured"] > 100
    assert 0.5 < report["pairwise_f1"] <= 1.0


def test_the_readme_command_runs_the_plugin_from_the_console_script(small_run, tmp_path):
    """As the README says: the console script imports from PYTHONPATH, not from the cwd."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = Path(sys.executable).parent / "sessionsim"
    run = copy_run(small_run, tmp_path)
    args = [str(script), "check", str(run), "--sessionizer", PLUGIN, "--no-realism"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    without = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True)
    assert without.returncode == 2 and "No module named 'examples'" in without.stderr
    with_path = subprocess.run(
        args, cwd=root, env={**env, "PYTHONPATH": "."}, capture_output=True, text=True
    )
    assert with_path.returncode == 0, with_path.stderr
