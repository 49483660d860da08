"""Every float and duration flag refuses NaN, infinities and absurd magnitudes in one line
(issue 19, part 4)."""

from __future__ import annotations

import pytest

from tests.conftest import SCENARIOS
from tests.helpers import one_line_error, run_cli

BASE = ["stream", str(SCENARIOS / "baseline.yaml"), "--users", "50", "--duration", "1h"]


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--sink", "stdout", "--realtime", "--rate", "nan"], "--rate"),
        (["--sink", "stdout", "--realtime", "--rate", "inf"], "--rate"),
        (["--sink", "stdout", "--realtime", "--speed", "nan"], "--speed"),
        (["--sink", "stdout", "--realtime", "--speed", "1e400"], "--speed"),
        (["--sink", "stdout", "--realtime", "--rate", "1e9", "--force"], "--rate"),
        (["--sink", "stdout", "--stop-after", "200000d"], "--stop-after"),
        (["--sink", "stdout", "--sink-timeout", "nan"], "--sink-timeout"),
        (["--sink", "stdout", "--min-acked", "nan"], "--min-acked"),
        (["--sink", "http://127.0.0.1:9/e", "--inflight", "400"], "--inflight"),
    ],
)
def test_absurd_live_flags_are_one_line_exit_2(tmp_path, capsys, monkeypatch, flags, named):
    code, _, err = run_cli(capsys, monkeypatch, *BASE, "--out", str(tmp_path / "run"), *flags)
    assert code == 2
    assert named in one_line_error(err)
    assert not (tmp_path / "run" / "truth" / "summary.json").exists()


@pytest.mark.parametrize("flags", [["--fail-rate", "nan"], ["--latency", "200000d"]])
def test_absurd_collector_flags_are_one_line_exit_2(tmp_path, capsys, monkeypatch, flags):
    code, _, err = run_cli(
        capsys, monkeypatch, "collect", "--listen", "127.0.0.1:0", "--out",
        str(tmp_path / "c.jsonl"), *flags,
    )  # fmt: skip
    assert code == 2 and flags[0] in one_line_error(err)
