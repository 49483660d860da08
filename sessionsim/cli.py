"""The ``sessionsim`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sessionsim.progress import sim_progress
from sessionsim.report import format_simulation
from simulator import Scenario, SimulatorError, load_scenario, simulate_to_dir

__all__ = ["main"]


def _overrides(seed, users, duration, start) -> dict:
    out = {}
    if seed is not None:
        out["seed"] = seed
    if users is not None:
        out["population.users"] = users
    if duration is not None:
        out["duration"] = duration
    if start is not None:
        out["start"] = start
    return out


def scenario_options(f):
    """Add the overrides every simulating command accepts."""
    f = click.option(
        "--start", help="Simulated start time, ISO 8601 UTC (e.g. 2026-01-05T00:00:00Z)."
    )(f)
    f = click.option("--duration", help="Simulated time to cover (e.g. 6h, 1d).")(f)
    f = click.option("--users", type=int, help="Number of users.")(f)
    f = click.option("--seed", type=int, help="Random seed.")(f)
    return click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sessionsim")
def cli() -> None:
    """Simulate search-app users with ground truth; check sessionizers against it.

    Values come from the scenario file first, then from command-line flags.
    """


@cli.command()
@scenario_options
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output directory (events.jsonl, truth/, scenario.yaml).",
)
def simulate(scenario, seed, users, duration, start, out):
    """Simulate SCENARIO and write its events and ground truth to --out."""
    sc = load_scenario(scenario, _overrides(seed, users, duration, start))
    with sim_progress(sc.duration) as progress:
        summary = simulate_to_dir(sc, out, progress)
    click.echo(format_simulation(summary, str(out)))


@cli.command()
def schema():
    """Print the JSON Schema of scenario files."""
    click.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@cli.command()
@click.option("--quick", is_flag=True, help="A short run (seconds) for every change.")
def bench(quick):
    """Measure throughput and memory of the simulator (and sessionizers)."""
    from sessionsim.bench import run_bench

    run_bench(quick)


def main() -> None:
    """Run the CLI; bad input ends with one line on stderr and exit status 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("sessionsim: interrupted; no partial output was kept", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except SimulatorError as e:
        click.echo(f"sessionsim: {e}", err=True)
        sys.exit(2)
