"""A plugin that misbehaves is one line naming it and what it did, exit 2 (issue 19, part 5)."""

from __future__ import annotations

import pytest

from sessionizer import GapSessionizer, Session
from tests.helpers import copy_run, one_line_error, run_cli


class YieldsInts:
    def __init__(self, config) -> None:
        self.config = config

    def sessionize(self, events):
        for _ in events:
            yield 42


class RaisesMidStream:
    def __init__(self, config) -> None:
        self.config = config

    def sessionize(self, events):
        for k, _ in enumerate(events):
            if k == 10:
                raise RuntimeError("boom at the tenth event")
        yield from ()


class EmitsEachSessionTwice:
    def __init__(self, config) -> None:
        self.inner = GapSessionizer(config)

    def sessionize(self, events):
        for o in self.inner.sessionize(events):
            yield o
            if isinstance(o, Session):
                yield o


@pytest.mark.parametrize(
    "plugin, said",
    [
        ("YieldsInts", "yielded int 42, expected a Session or a Late"),
        ("RaisesMidStream", "raised RuntimeError: boom at the tenth event"),
        ("EmitsEachSessionTwice", "it emitted events twice"),
    ],
)
def test_a_misbehaving_plugin_is_one_line_exit_2(
    small_run, tmp_path, capsys, monkeypatch, plugin, said
):
    run_dir = copy_run(small_run, tmp_path)
    code, _, err = run_cli(
        capsys, monkeypatch, "check", str(run_dir), "--no-realism", "--sessionizer",
        f"tests.sessionsim.test_plugin_errors:{plugin}",
    )  # fmt: skip
    assert code == 2
    line = one_line_error(err)
    assert said in line and (plugin in line or "sessionizer" in line)
    assert not (run_dir / "report.json").exists()
