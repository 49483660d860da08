"""The Python face and the pytest plugin, as the README shows them."""

from __future__ import annotations

import pytest

import sessionsim

pytestmark = pytest.mark.slow  # end-to-end simulations

pytest_plugins = ["pytester"]


def test_the_public_names_are_exactly_these():
    assert sorted(sessionsim.__all__) == [
        "Error",
        "Event",
        "GateFailed",
        "Late",
        "Report",
        "Run",
        "Session",
        "SessionConfig",
        "check",
        "load_scenario",
        "simulate",
        "sweep",
    ]


def test_one_error_root_catches_the_simulators_the_sessionizers_and_the_harness(tmp_path):
    from sessionizer import SessionizerError
    from sessionsim.errors import RunFailed, SessionsimError
    from simulator import SimulatorError

    for error in (SimulatorError, SessionizerError, SessionsimError, RunFailed):
        assert issubclass(error, sessionsim.Error)
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\npopulation: {users: -3}\n")
    with pytest.raises(sessionsim.Error, match="users"):
        sessionsim.load_scenario(bad)


def test_the_readme_python_example(tmp_path):
    sc = sessionsim.load_scenario("late_mobile", users=300, duration="8h", seed=4)
    assert sc.population.users == 300 and sc.seed == 4
    run = sessionsim.simulate(sc)
    events = list(run.events())
    assert len(events) == run.summary.events == sum(1 for _ in run.event_dicts())
    assert isinstance(events[0], sessionsim.Event)
    assert sum(1 for _ in run.visits()) == run.summary.sessions
    report = sessionsim.check(run, sessionizer="reference", lateness="5m")
    assert report.lateness == "5m" and report.to_dict()["ctr_true"] == run.summary.ctr
    assert report.gate(max_ctr_error=0.5) is report
    with pytest.raises(sessionsim.GateFailed, match="pairwise_f1 .* < --min-pairwise-f1 1"):
        report.gate(min_pairwise_f1=1.0)
    kept = run.write(tmp_path / "kept")
    assert sessionsim.check(kept, sessionizer="reference", lateness="5m").to_dict() == (
        report.to_dict()
    )
    rows = sessionsim.sweep(sc, tmp_path / "sweep", gaps=["5m", "30m"], latenesses=["5m"])
    assert [r.gap for r in rows] == ["5m", "30m"]


def test_the_pytest_plugin_guards_a_pipeline_in_five_lines(pytester):
    pytester.makepyfile(
        """
        def test_reference_recovers_ctr(sessionsim_run, sessionsim_check):
            run = sessionsim_run("baseline", users=200, duration="6h")
            assert sessionsim_run("baseline", users=200, duration="6h") is run  # cached
            sessionsim_check(run, "reference", max_ctr_error=0.05)

        def test_a_missed_gate_fails_the_test(sessionsim_run, sessionsim_check):
            run = sessionsim_run("baseline", users=200, duration="6h")
            sessionsim_check(run, "reference", gap="10s", min_pairwise_f1=0.99)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*GateFailed: reference: pairwise_f1 * < --min-pairwise-f1 0.99*"])


def test_bad_input_from_python_is_a_value_error_naming_it(tmp_path):
    from sessionsim.errors import SessionsimError

    with pytest.raises(SessionsimError, match="not a run directory") as caught:
        sessionsim.check(tmp_path)
    assert isinstance(caught.value, ValueError)


def test_bad_settings_and_nan_gates_are_the_packages_one_line_error(tmp_path):
    """Issue 19, part 5: not pydantic's report, and never a gate that passes everything."""
    import math

    from sessionsim.errors import SessionsimError

    run = sessionsim.simulate(sessionsim.load_scenario("baseline", users=30, duration="1h"))
    with pytest.raises(SessionsimError, match=r"^sessionizer setting: gap: .*'-5m'") as e:
        sessionsim.check(run, gap="-5m")
    assert "\n" not in str(e.value) and "pydantic" not in str(e.value)
    report = sessionsim.check(run)
    for bad in (math.nan, math.inf, -0.1, "0.1"):
        with pytest.raises(SessionsimError, match="max_ctr_error"):
            report.gate(max_ctr_error=bad)
        with pytest.raises(SessionsimError, match="min_pairwise_f1"):
            report.gate(min_pairwise_f1=bad)
    assert report.gate(max_ctr_error=1.0) is report


def test_the_face_stays_the_api_whatever_was_imported_before():
    """The package face loads on first use; no submodule shadows one of its names."""
    import importlib

    importlib.import_module("sessionsim.cli")  # imports every submodule of the harness
    for name in sessionsim.__all__:
        value = getattr(sessionsim, name)
        assert not isinstance(value, type(sessionsim)), name  # a function or class, not a module
