"""`sessionsim report RUN_DIR --out page.html` (issue 22, part 5): one self-contained page
per run, opened in a real headless Chromium: it loads with nothing fetched and no console
message, shows the run's check, realism and live figures, and renders to a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import copy_run, one_line_error, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium (.ci/run installs it from Debian packages)"
)


def _chromium(*args: str) -> subprocess.CompletedProcess:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def page(small_run, tmp_path_factory):
    """A checked copy of a small run, and its page, made by the command line."""
    tmp = tmp_path_factory.mktemp("page")
    run, html = copy_run(small_run, tmp), tmp / "report.html"
    for args in (["check", str(run)], ["report", str(run), "--out", str(html)]):
        done = subprocess.run(
            [sys.executable, "-m", "sessionsim", *args], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return run, html


def test_the_page_is_self_contained_and_names_the_run(page):
    _, html = page
    text = html.read_text()
    assert "<script" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing fetched
    assert "url(http" not in text
    assert "300 users" in text and "pairwise F1" in text and "<svg" in text


@needs_browser
def test_the_page_loads_in_chromium_with_its_figures_and_no_console_message(page):
    _, html = page
    done = _chromium("--dump-dom", html.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert re.search(r"\d+ of \d+ rows inside their band; \d+ OUT", dom)
    assert "CTR measured" in dom and dom.count("<tr>") > 40 and "<svg" in dom
    assert "CONSOLE" not in done.stderr and "Failed to load resource" not in done.stderr


@needs_browser
def test_the_page_renders_to_a_screenshot(page, tmp_path):
    _, html = page
    shot = tmp_path / "page.png"
    done = _chromium("--window-size=1400,2200", f"--screenshot={shot}", html.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a page of tables and a figure, not a blank one


def test_a_missing_run_is_one_line(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys, monkeypatch, "report", str(tmp_path / "nope"), "--out", str(tmp_path / "p.html")
    )
    assert code == 2 and "summary.json" in one_line_error(err)
    assert not (tmp_path / "p.html").exists()
