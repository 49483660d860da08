"""`sessionsim schema`: the JSON Schema of a scenario file, or of a result record."""

from __future__ import annotations

import importlib
import json

import click
import msgspec

from sessionsim.cli.schema_docs import describe
from sessionsim.scenario import RunScenario

# The typed records the commands write, by name: where each lives.
RECORDS = {
    "summary": "simulator:Summary",
    "live-summary": "sessionsim.live.records:LiveSummary",
    "report": "sessionsim.scoring.report:Report",
    "sweep-row": "sessionsim.analysis.sweep:SweepRow",
    "realism-row": "sessionsim.realism:RealismRow",
    "compare-row": "sessionsim.analysis.compare:CompareRow",
}


@click.command()
@click.option(
    "--of",
    "what",
    type=click.Choice(["scenario", *RECORDS]),
    default="scenario",
    show_default=True,
    help="A scenario file, or a record: truth/summary.json (summary, live-summary), "
    "report.json (report), a row of sweep, realism or compare (--json prints them).",
)
def schema(what: str) -> None:
    """Print the JSON Schema of scenario files, or of a result record."""
    if what == "scenario":
        click.echo(json.dumps(describe(RunScenario.model_json_schema()), indent=2))
        return
    module, _, name = RECORDS[what].partition(":")
    record = getattr(importlib.import_module(module), name)
    click.echo(json.dumps(msgspec.json.schema(record), indent=2))
