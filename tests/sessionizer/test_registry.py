"""Finding sessionizers: built-in names, installed entry points, module:attribute paths."""

from __future__ import annotations

import pytest

from sessionizer import GapSessionizer, SessionizerError, known_names, resolve
from tests.sessionizer.plugin import WholeUser


def test_builtin_name():
    assert resolve("reference") is GapSessionizer


def test_entry_point_of_an_installed_distribution(tmp_path, monkeypatch):
    dist = tmp_path / "sessionsim_whole-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sessionsim-whole\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[sessionsim.sessionizers]\nwhole = tests.sessionizer.plugin:WholeUser\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "whole" in known_names()
    assert resolve("whole") is WholeUser


def test_module_attribute_path():
    assert resolve("tests.sessionizer.plugin:WholeUser") is WholeUser


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("referense", "did you mean 'reference'"),
        ("nope.mod:Thing", "cannot import 'nope.mod'"),
        ("tests.sessionizer.plugin:Missing", "has no attribute 'Missing'"),
        ("tests.sessionizer.plugin:__doc__", "is not callable"),
    ],
)
def test_bad_names_are_one_line_errors(name, needle):
    with pytest.raises(SessionizerError, match=needle):
        resolve(name)
