"""Scenario values no one means are refused in one line, fast (issue 19, part 4)."""

from __future__ import annotations

import time

import pytest

from tests.helpers import one_line_error, run_cli

LAUGHS = """a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


@pytest.mark.parametrize(
    "text, said",
    [
        (LAUGHS + "sessionizers: [{options: {x: *h}}]\n", "aliases are expanded"),
        ("population:\n  visits_per_day: {median: 1.5, sigma: 1e300}\n", "visits_per_day.sigma"),
        ("delivery:\n  clock_skew: {drift_ppm_sd: 1e300}\n", "drift_ppm_sd"),
        (
            "visit:\n  dwell_time: {dist: weibull, scale: 100s, shape: 5.0e-324}\n",
            "dwell_time.shape",
        ),
        (
            "visit:\n  long_pause: {dist: lognormal, median: 99999999999d, sigma: 0.5}\n",
            "long_pause",
        ),
        ("delivery:\n  clock_skew: {drift_ppm_sd: .nan}\n", "drift_ppm_sd"),
    ],
)
def test_absurd_scenario_values_are_one_line_exit_2_at_once(
    tmp_path, capsys, monkeypatch, text, said
):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    started = time.monotonic()
    code, _, err = run_cli(
        capsys, monkeypatch, "simulate", str(path), "--users", "20", "--out", str(tmp_path / "o")
    )
    assert time.monotonic() - started < 10.0
    assert code == 2
    line = one_line_error(err)
    assert said in line and len(line) < 400  # the input is never rendered whole
