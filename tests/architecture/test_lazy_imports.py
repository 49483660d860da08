"""What a command costs before it runs: `sessionsim --help`, `import sessionsim` and the
pytest plugin (loaded by every pytest run where sessionsim is installed) import no plotting,
Arrow, Kafka, DuckDB or Bytewax module; a command that needs one imports it itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "pyarrow", "confluent_kafka", "duckdb", "bytewax", "scipy")

_REPORT = """
import sys
{body}
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
print('HEAVY=' + ','.join(heavy))
"""


def _heavy_after(body: str) -> list[str]:
    code = _REPORT.format(body=body, heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    line = [x for x in out.splitlines() if x.startswith("HEAVY=")][-1]
    return [m for m in line[len("HEAVY=") :].split(",") if m]


HELP = """
sys.argv = ['sessionsim', {args}]
from sessionsim.entry import main
try:
    main()
except SystemExit:
    pass
"""


@pytest.mark.parametrize(
    "body",
    [
        HELP.format(args="'--help'"),
        HELP.format(args="'check', '--help'"),
        HELP.format(args="'simulate', '--help'"),
        "import sessionsim",
        "import sessionsim.integrations.pytest_plugin",
        "import sessionizer, simulator",
    ],
    ids=["help", "check-help", "simulate-help", "import", "pytest-plugin", "faces"],
)
def test_nothing_heavy_is_imported_before_a_command_runs(body):
    assert _heavy_after(body) == []


def test_the_check_seen_from_here_does_import_arrow():
    """The probe can fail: a command that reads a run does import Arrow."""
    assert "pyarrow" in _heavy_after("import sessionsim.batches")
