"""A pytest plugin (entry point ``pytest11``): guard your own pipeline with sessionsim.

    def test_my_pipeline_recovers_ctr(sessionsim_run, sessionsim_check):
        run = sessionsim_run("late_mobile", users=500)
        sessionsim_check(run, "mypkg.sessions:Mine", max_ctr_error=0.01)

``sessionsim_run`` simulates once per test session for each scenario and overrides;
``sessionsim_check`` scores a sessionizer (or a ``sessions=`` file) and fails the test,
naming each gate missed. Every pytest run in an environment with sessionsim installed loads
this module, so it imports nothing of sessionsim's until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sessionsim.api import Report, Run


@pytest.fixture(scope="session")
def sessionsim_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Run]:
    """A factory: ``sessionsim_run(scenario_name_or_path, **overrides) -> Run``, cached."""
    runs: dict[tuple, Run] = {}

    def make(scenario: str, **overrides: Any) -> Run:
        key = (str(scenario), tuple(sorted((k, repr(v)) for k, v in overrides.items())))
        if key not in runs:
            from sessionsim.api import load_scenario, simulate

            out = tmp_path_factory.mktemp("sessionsim") / "run"
            runs[key] = simulate(load_scenario(scenario, **overrides), out)
        return runs[key]

    return make


@pytest.fixture
def sessionsim_check() -> Callable[..., Report]:
    """``sessionsim_check(run, sessionizer, max_ctr_error=..., min_pairwise_f1=...,
    **setting) -> Report``: fails the test when a gate is missed."""

    def run_check(
        run: Run,
        sessionizer: str | None = None,
        *,
        max_ctr_error: float | None = None,
        min_pairwise_f1: float | None = None,
        **setting: Any,
    ) -> Report:
        from sessionsim.api import check

        report = check(run, sessionizer, **setting)
        return report.gate(max_ctr_error=max_ctr_error, min_pairwise_f1=min_pairwise_f1)

    return run_check
