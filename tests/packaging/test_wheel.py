"""The wheel as a user installs it: built from this checkout, installed into a fresh venv
(its dependencies seen from this environment, not the checkout's sources), it runs the
README's main job on a bundled scenario, finds its packaged realism bands, and its pytest
plugin serves a test."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """A venv holding the built wheel and nothing of the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    built = _run(
        sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps",
        "-w", work / "dist", cwd=work,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (work / "dist").glob("sessionsim-*.whl")
    venv = work / "venv"
    assert _run(sys.executable, "-m", "venv", venv, cwd=work).returncode == 0
    py = venv / "bin" / "python"
    installed = _run(py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=work)
    assert installed.returncode == 0, installed.stderr[-2000:]
    # The dependencies, from this environment: a plain path entry (its .pth files, such as
    # this checkout's editable install, are not run).
    purelib = _run(py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=work)
    (Path(purelib.stdout.strip()) / "deps.pth").write_text("\n".join(site.getsitepackages()))
    return venv


def test_the_wheel_runs_the_main_job_with_its_packaged_files(fresh, tmp_path):
    env = {**os.environ, "PYTHONPATH": ""}
    where = _run(fresh / "bin" / "python", "-c", "import sessionsim; print(sessionsim.__file__)",
                 cwd=tmp_path, env=env)  # fmt: skip
    assert str(fresh) in where.stdout, where.stdout + where.stderr  # not the checkout's
    out = tmp_path / "run"
    done = _run(fresh / "bin" / "sessionsim", "run", "baseline", "--users", "200", "--out", out,
                cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "events.jsonl").stat().st_size > 0 and (out / "report.json").exists()
    realism = _run(fresh / "bin" / "sessionsim", "realism", out, cwd=tmp_path, env=env)
    assert realism.returncode == 0, realism.stderr[-2000:]
    assert "rows inside their band" in realism.stdout
    jvm = _run(fresh / "bin" / "python", "-c",
               "from sessionizer.flink_engine import _JVM; "
               "print(sorted(p.name for p in _JVM.iterdir() if p.suffix != '.pyc'))",
               cwd=tmp_path, env=env)  # fmt: skip
    assert jvm.returncode == 0, jvm.stderr[-2000:]
    assert "RunFlinkSql.java" in jvm.stdout and "log4j2.properties" in jvm.stdout  # packaged
    assert str(fresh) in _run(fresh / "bin" / "python", "-c",
                              "import sessionizer.flink_engine as f; print(f.__file__)",
                              cwd=tmp_path, env=env).stdout  # fmt: skip


def test_the_wheels_pytest_plugin_serves_a_test(fresh, tmp_path):
    (tmp_path / "test_mine.py").write_text(
        "def test_reference(sessionsim_run, sessionsim_check):\n"
        "    run = sessionsim_run('baseline', users=200, duration='4h')\n"
        "    sessionsim_check(run, 'reference', max_ctr_error=0.05)\n"
    )
    env = {**os.environ, "PYTHONPATH": ""}
    done = _run(fresh / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "test_mine.py", cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
