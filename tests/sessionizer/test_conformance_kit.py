"""The conformance kit: every built-in backend passes it; a broken sessionizer does not."""

from __future__ import annotations

import dataclasses

import pytest

from sessionizer import GapSessionizer, known_names, resolve
from sessionizer.testing import CASES, run_conformance
from tests.helpers import engine_param


@pytest.mark.parametrize("name", [engine_param(n) for n in known_names()])
def test_every_registered_backend_conforms(name):
    assert run_conformance(resolve(name)) == []


class _SplitsAtExactlyTheGap(GapSessionizer):
    """Beam's reading of the gap (docs/semantics.md says a gap of exactly G stays together)."""

    def __init__(self, config):
        super().__init__(dataclasses.replace(config, gap_ms=config.gap_ms - 1))


class _NoDedup(GapSessionizer):
    def __init__(self, config):
        super().__init__(dataclasses.replace(config, dedup=False))


def test_a_sessionizer_that_differs_fails_with_the_cases_named():
    failures = run_conformance(_SplitsAtExactlyTheGap)
    assert failures and failures[0].startswith("case 3 (a gap of exactly G stays")
    assert any(f.startswith("case 5") for f in run_conformance(_NoDedup))


def test_a_batch_backend_skips_only_the_watermark_cases():
    class Batch(GapSessionizer):
        batch_only = True

    assert run_conformance(Batch) == []
    needs_watermark = [n for n, _, needs, _ in CASES if "streaming" in needs]
    assert needs_watermark == [12]


@pytest.mark.parametrize("name", [engine_param(n) for n in known_names()])
def test_counts_belong_to_one_call_and_never_accumulate(name):
    from sessionizer import Outputs, SessionConfig
    from sessionizer.testing import event

    factory = resolve(name)
    sz = factory(SessionConfig(gap_ms=10_000))
    dedups = "dedup" not in getattr(factory, "differs", {})  # bytewax-window keeps copies
    for _ in range(2):
        emitted = Outputs.of(sz, iter([event(0), event(1), event(1, "u1-0")]))
        list(emitted)
        c = emitted.counts
        assert (c.accepted, c.late, c.duplicates) == ((2, 0, 1) if dedups else (3, 0, 0))


def test_counts_are_known_only_once_the_outputs_are_read():
    from sessionizer import Outputs, SessionConfig, SessionizerError
    from sessionizer.testing import event

    emitted = Outputs.of(resolve("reference")(SessionConfig(gap_ms=10_000)), iter([event(0)]))
    with pytest.raises(SessionizerError, match="once its outputs are read"):
        _ = emitted.counts
    assert len(list(emitted)) == 1 and emitted.counts.accepted == 1


class _NeverEnds:
    def __init__(self, config) -> None:
        pass

    def sessionize(self, events):
        import time

        while True:  # never yields, never returns
            time.sleep(0.05)
        yield


class _EndlessOutput:
    def __init__(self, config) -> None:
        pass

    def sessionize(self, events):
        from sessionizer import Session

        while True:
            yield Session("u1", 0, 0, [])


def test_a_sessionizer_that_never_ends_or_never_stops_talking_fails_each_case_in_bounds(
    monkeypatch,
):
    """Issue 19, part 5: each case runs under a timeout and an output bound."""
    import time

    from sessionizer import testing

    monkeypatch.setattr(testing, "CASE_TIMEOUT_S", 0.2)
    started = time.monotonic()
    hung = run_conformance(_NeverEnds)
    endless = run_conformance(_EndlessOutput)
    assert time.monotonic() - started < 0.2 * len(CASES) + 20
    assert len(hung) == len(endless) >= len(CASES) - 3
    assert all("did not finish within 0.2 s" in f for f in hung)
    assert all("outputs for" in f or "expected" in f for f in endless)
