"""Shared test helpers: statistics computed in the test, and the CLI run in process."""

from __future__ import annotations

import importlib.util
import math
import shutil
from pathlib import Path

import orjson
import pytest

from sessionsim.cli import main

# Flags under which the reference recovers true visits exactly (perfect delivery).
EXACT_FLAGS = ("--gap", "1d", "--lateness", "1m", "--split-on-app-open")
# The report keys that score sessions against true visits.
SCORE_KEYS = (
    "sessions_found",
    "sessions_exact",
    "splits",
    "merges",
    "pairwise_precision",
    "pairwise_recall",
    "pairwise_f1",
)


def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Return the Wilson score interval for k successes in n trials."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def read_jsonl(path) -> list[dict]:
    with open(path, "rb") as f:
        return [orjson.loads(line) for line in f]


def run_cli(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """Run ``sessionsim ARGS`` in process; return (exit status, stdout, stderr)."""
    monkeypatch.setattr("sys.argv", ["sessionsim", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    """Copy a shared run directory so a test may write its report there."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return copy


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


__all__ = [
    "EXACT_FLAGS",
    "SCORE_KEYS",
    "copy_run",
    "one_line_error",
    "pytest",
    "read_jsonl",
    "run_cli",
    "wilson",
]


def load_scenario(path, overrides=None, **options):
    """Load a scenario file as the harness does: bundled scenarios carry the harness's own
    sections (``sessionizers:``, ``load:``), which the simulator's schema does not know."""
    from sessionsim.scenario import RunScenario
    from simulator import load_scenario as load

    options.setdefault("model", RunScenario)
    return load(path, overrides, **options)


# The JVM engines: the package each needs, and its extra. A run starts a JVM and a job
# (5-20 s), so they are run through the conformance kit and their own tests, not every
# edge-case test; they skip, saying why, where Java or the package is absent.
JVM_ENGINES = {"flink": ("pyflink", "flink"), "spark": ("pyspark", "spark"),
               "spark-batch": ("pyspark", "spark")}  # fmt: skip


def engine_param(name: str):
    """``name`` as a pytest parameter: a JVM engine is skipped without Java or its package
    (the reason printed) and given 15 minutes (about 20 JVM runs)."""
    if name not in JVM_ENGINES:
        return pytest.param(name)
    package, extra = JVM_ENGINES[name]
    java = shutil.which("java")
    installed = importlib.util.find_spec(package) is not None
    return pytest.param(
        name,
        marks=[
            pytest.mark.skipif(
                java is None or not installed,
                reason=f"{name}: needs Java 17 on PATH and pip install 'sessionsim[{extra}]' "
                f"(java: {java or 'absent'}; {package}: {'installed' if installed else 'absent'})",
            ),
            pytest.mark.timeout(900),
        ],
    )
