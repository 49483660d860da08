"""`sessionsim schema`: the event and truth schema, as documentation."""

from __future__ import annotations

import json

import click

from sessionsim.cli.schema_docs import describe
from sessionsim.scenario import RunScenario


@click.command()
def schema() -> None:
    """Print the JSON Schema of scenario files."""
    click.echo(json.dumps(describe(RunScenario.model_json_schema()), indent=2))
