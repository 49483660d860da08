"""Issue 10: inputs and faults that used to end in a traceback, a hang or a mixed directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import SCENARIOS
from tests.helpers import copy_run, one_line_error, run_cli


@pytest.mark.parametrize(
    ("source", "name", "needle"),
    [
        (None, ":", "expected module:attribute"),
        ("def broken(:\n", "synerr:X", "importing 'synerr' raised SyntaxError"),
        (
            "raise RuntimeError('boom')\n",
            "raiser:X",
            "importing 'raiser' raised RuntimeError: boom",
        ),
        ("def make(config):\n    return 42\n", "notsz:make", "int is not a sessionizer"),
        (
            "def make(config):\n    raise KeyError('k')\n",
            "keyerr:make",
            "building it raised KeyError",
        ),
    ],
)
def test_a_broken_plugin_is_one_line_exit_2(
    small_run, tmp_path, capsys, monkeypatch, source, name, needle
):
    if source is not None:
        (tmp_path / f"{name.split(':')[0]}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    run = copy_run(small_run, tmp_path)
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(run), "--sessionizer", name, "--no-realism"
    )
    assert code == 2 and needle in one_line_error(err)


def test_a_corrupt_truth_summary_value_is_one_line_exit_2(small_run, tmp_path, capsys, monkeypatch):
    run = copy_run(small_run, tmp_path)
    path = run / "truth" / "summary.json"
    summary = json.loads(path.read_text())
    summary["ctr"] = "high"
    path.write_text(json.dumps(summary))
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run), "--no-realism")
    assert code == 2 and "summary.json: ctr: expected a fraction or null (got 'high')" in err


def test_more_clicked_searches_than_searches_is_one_line_exit_2(
    small_run, tmp_path, capsys, monkeypatch
):
    run = copy_run(small_run, tmp_path)
    line = {"event_ids": [], "searches": 1, "clicked_searches": 2, "clicks": 2}
    (tmp_path / "s.jsonl").write_text(json.dumps(line) + "\n")
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(run), "--sessions", str(tmp_path / "s.jsonl")
    )
    assert code == 2 and "s.jsonl:1: clicked_searches: more than searches (2 > 1)" in err


def test_sessionize_into_a_directory_fails_before_the_work(
    small_run, tmp_path, capsys, monkeypatch
):
    (tmp_path / "d").mkdir()
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "sessionize",
        str(small_run / "events.jsonl"),
        "--out",
        str(tmp_path / "d"),
    )
    assert code == 2 and one_line_error(err).endswith("d: cannot write: is a directory")


def test_a_planted_symlink_is_never_written_through(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    for name in (".scenario.yaml.partial", ".events.jsonl.partial"):
        (out / name).symlink_to(victim)
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "simulate",
        str(SCENARIOS / "baseline.yaml"),
        "--users",
        "50",
        "--duration",
        "1h",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert victim.read_text() == "keep me" and (out / "events.jsonl").stat().st_size > 0


def test_a_file_size_limit_is_one_line_exit_2_and_no_partial_file(tmp_path):
    """EFBIG (and ENOSPC alike): one line naming the file, exit 2, partial files removed."""
    code = f"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
sys.argv = ["sessionsim", "simulate", {str(SCENARIOS / "baseline.yaml")!r}, "--users", "2000",
            "--out", {str(tmp_path / "out")!r}]
from sessionsim.cli import main
main()
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    assert done.returncode == 2, done.stderr
    line = one_line_error(done.stderr)
    assert "cannot write: File too large" in line and "Traceback" not in done.stderr
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".partial")]


def test_a_second_writer_is_refused_and_a_dead_runs_partials_are_cleaned(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from simulator.rundir import prepare_dir;"
            f"prepare_dir(Path({str(out)!r})); print('locked', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        args = ("simulate", str(SCENARIOS / "baseline.yaml"), "--users", "50", "--duration", "1h")
        code, _, err = run_cli(capsys, monkeypatch, *args, "--out", str(out))
        assert code == 2
        assert f"another sessionsim run is writing here (pid {holder.pid})" in one_line_error(err)
        assert not (out / "events.jsonl").exists()
    finally:
        holder.kill()  # as SIGKILL would: its lock goes with it
        holder.wait()
    stale = out / ".events.jsonl.1234.partial"
    stale.write_bytes(b"x" * 1000)
    code, _, err = run_cli(capsys, monkeypatch, *args, "--out", str(out))
    assert code == 0, err
    assert not stale.exists() and (out / "events.jsonl").stat().st_size > 0


def test_events_and_truth_of_different_runs_are_rejected(small_run, tmp_path, capsys, monkeypatch):
    run = copy_run(small_run, tmp_path)
    (run / "events.jsonl").write_bytes(b"")  # an empty stream beside a full truth
    code, _, err = run_cli(capsys, monkeypatch, "check", str(run), "--no-realism")
    assert code == 2 and "0 events where truth/summary.json says" in one_line_error(err)
    assert not (run / "report.json").exists()


def test_a_plugin_that_stops_reading_early_is_rejected(small_run, tmp_path, capsys, monkeypatch):
    """Counts come from the stream, so a plugin cannot misreport them; one that leaves
    events unread is caught: everything it was given must be read."""
    (tmp_path / "quitter.py").write_text(
        "import itertools\n"
        "from sessionizer import GapSessionizer\n"
        "class Quitter(GapSessionizer):\n"
        "    def sessionize(self, events):\n"
        "        yield from super().sessionize(itertools.islice(events, 100))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    run = copy_run(small_run, tmp_path)
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(run), "--sessionizer", "quitter:Quitter"
    )
    line = one_line_error(err)
    assert code == 2 and "'quitter:Quitter': read 100 of the" in line, line


def test_sigterm_ends_like_ctrl_c_with_exit_143_and_no_partial_files(tmp_path):
    import signal
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "simulate", str(SCENARIOS / "baseline.yaml")]
        + ["--users", "50000", "--out", str(out)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    deadline = time.monotonic() + 120
    while not list(out.glob(".events.jsonl.*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the run
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip() == "sessionsim: terminated; no partial output was kept"
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]


def test_an_interrupted_multi_setting_run_says_which_files_it_kept(tmp_path, capsys, monkeypatch):
    (tmp_path / "stopper.py").write_text(
        "from sessionizer import GapSessionizer\n"
        "class Stop(GapSessionizer):\n"
        "    def sessionize(self, events):\n"
        "        raise KeyboardInterrupt  # as Ctrl-C in the second setting\n"
        "        yield\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    scenario = tmp_path / "two.yaml"
    scenario.write_text(
        "population: {users: 100}\nduration: 2h\nsessionizers:\n"
        "  - {sessionizer: reference, label: first}\n"
        "  - {sessionizer: 'stopper:Stop', label: second}\n"
    )
    out = tmp_path / "out"
    code, _, err = run_cli(
        capsys, monkeypatch, "run", str(scenario), "--out", str(out), "--no-realism"
    )
    line = one_line_error(err)
    assert code == 130 and line.startswith("sessionsim: interrupted; kept the ")
    assert str(out / "events.jsonl") in line and "partial files removed" in line
    assert (out / "sessions.first.jsonl").exists() and not (out / "sessions.second.jsonl").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]


def _children(pid: int) -> list[int]:
    out = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                fields = open(f"/proc/{stat}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(stat))
    return out


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_sweep_leaves_no_workers(tmp_path):
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "sessionsim", "sweep", str(SCENARIOS / "baseline.yaml")]
        + ["--users", "3000", "--gap", "1m,5m,10m,30m,1h,2h", "--lateness", "0s,1m,1h"]
        + ["--workers", "2", "--out", str(tmp_path / "sweep")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        workers = _children(proc.pid)
    assert len(workers) >= 2, "the sweep never started its workers"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, workers))


def test_a_bundled_scenario_is_found_by_name_from_anywhere(tmp_path, capsys, monkeypatch):
    from sessionsim.bundled import bundled_names, scenario_path

    monkeypatch.chdir(tmp_path)  # no scenarios/ here
    assert scenario_path("baseline").read_bytes() == (SCENARIOS / "baseline.yaml").read_bytes()
    assert scenario_path("late_mobile.yaml").name == "late_mobile.yaml"
    assert set(bundled_names()) == {p.stem for p in SCENARIOS.glob("*.yaml")}
    code, out, err = run_cli(
        capsys, monkeypatch, "run", "baseline", "--users", "50", "--duration", "1h", "--no-realism"
    )
    assert code == 0, err
    code, _, err = run_cli(capsys, monkeypatch, "run", "basline")
    assert code == 2 and "basline: no such scenario file (bundled scenarios: baseline," in err


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("duration: 99999999999999999999d\n", "duration: expected at most 400d"),
        ("start: 9999-12-31T00:00:00Z\n", "start: expected a start from 1971 to 9000"),
        (
            "arrivals: {bursts: [{at: 1h, length: 1h, factor: 1.0e+12}]}\n",
            "arrivals.bursts.0.factor: Input should be less than or equal to 1000",
        ),
        (
            "population: {visits_per_day: {median: 1.0e+9, sigma: 1}}\n",
            "population.visits_per_day: median: expected at most 1000",
        ),
        ("queries: {catalog: 1000000000000}\n", "queries.catalog"),
    ],
)
def test_sizes_beyond_their_bounds_are_one_line_exit_2(tmp_path, capsys, monkeypatch, text, needle):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    code, _, err = run_cli(capsys, monkeypatch, "simulate", str(path), "--out", str(tmp_path / "o"))
    assert code == 2 and needle in one_line_error(err)


def test_a_run_over_the_size_limit_needs_force(tmp_path, capsys, monkeypatch):
    args = ("simulate", "million_users", "--duration", "400d", "--out", str(tmp_path / "o"))
    code, _, err = run_cli(capsys, monkeypatch, *args)
    line = one_line_error(err)
    assert code == 2 and "over the limit of 200,000,000; pass --force to run it" in line
    assert not (tmp_path / "o" / "events.jsonl").exists()


def test_the_size_estimate_is_close_to_the_run(tmp_path):
    from simulator import simulate_null
    from simulator.estimate import estimate
    from tests.helpers import load_scenario

    sc = load_scenario(SCENARIOS / "baseline.yaml", {"population.users": 4000})
    guess = estimate(sc)["events"]
    actual = simulate_null(sc).events
    assert abs(guess - actual) < 0.25 * actual  # a 256-user pilot: within a quarter


@pytest.mark.parametrize("name", ["truth/sessions.jsonl", "truth/events.jsonl", "events.jsonl"])
def test_a_file_from_another_run_is_rejected(tmp_path, capsys, monkeypatch, name):
    from simulator import simulate_to_dir
    from tests.helpers import load_scenario

    runs = []
    for seed in (1, 2):
        sc = load_scenario(
            SCENARIOS / "baseline.yaml",
            {"population.users": 120, "duration": "4h", "seed": seed},
        )
        simulate_to_dir(sc, tmp_path / str(seed))
        runs.append(tmp_path / str(seed))
    (runs[0] / name).write_bytes((runs[1] / name).read_bytes())
    code, _, err = run_cli(capsys, monkeypatch, "check", str(runs[0]), "--no-realism")
    line = one_line_error(err)
    assert code == 2 and ("not of one run" in line or "expected an event of the truth" in line)
    assert not (runs[0] / "report.json").exists()
