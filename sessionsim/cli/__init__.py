"""The ``sessionsim`` command line: the group, its commands (one module per family), and
how a command ends: one line and exit 2 on bad input, 130/143 on a stop."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from sessionsim.cli.analysis import bench, compare, realism, report, sweep
from sessionsim.cli.check import check, sessionize, sql
from sessionsim.cli.collect import collect
from sessionsim.cli.schema import schema
from sessionsim.cli.simulate import run, simulate, stream
from sessionsim.errors import LAG_EXCEEDED, Error, LagExceeded, RunFailed
from simulator import committed_files

__all__ = ["ENV_PREFIX", "cli", "main"]

# Every option also reads SESSIONSIM_<COMMAND>_<FLAG> (SESSIONSIM_SIMULATE_USERS=500,
# SESSIONSIM_STREAM_SINK_TIMEOUT=5s): the flag wins over the variable, the variable over the
# scenario file.
ENV_PREFIX = "SESSIONSIM"

_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


def _environment_names(command: click.Command) -> None:
    """Name each option's variable after its flag (click's own would use the parameter's
    Python name: --format -> FMT)."""
    for param in command.params:
        if isinstance(param, click.Option) and param.envvar is None:
            flag = max(param.opts, key=len).lstrip("-").upper().replace("-", "_")
            param.envvar = f"{ENV_PREFIX}_{(command.name or '').upper()}_{flag}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sessionsim")
def cli() -> None:
    """Simulate search-app users with ground truth; check sessionizers against it.

    Values come from the scenario file first, then from command-line flags.
    """


for _command in (
    run,
    simulate,
    stream,
    sessionize,
    check,
    sql,
    sweep,
    compare,
    realism,
    report,
    bench,
    collect,
    schema,
):
    _environment_names(_command)
    cli.add_command(_command)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is (partial files removed), with its own exit status."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated()


def _interrupted(e: BaseException) -> None:
    """Say exactly what an interruption kept: the files completed before it, if any."""
    kept = committed_files()
    if kept:
        names = ", ".join(str(p) for p in kept[:4]) + (", ..." if len(kept) > 4 else "")
        what = f"kept the {len(kept)} files completed before it ({names}); partial files removed"
    else:
        what = "no partial output was kept"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stop is under way: no second one
    cause = e.__cause__ if isinstance(e, click.exceptions.Abort) else e
    terminated = isinstance(cause, _Terminated)
    click.echo(f"sessionsim: {'terminated' if terminated else 'interrupted'}; {what}", err=True)
    sys.exit(143 if terminated else 130)


def main() -> None:
    """Run the CLI; bad input ends with one line on stderr and exit status 2."""
    signal.signal(signal.SIGTERM, _terminate)
    committed_files(reset=True)  # this command's files, for what an interruption kept
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt) as e:
        _interrupted(e)
    except _NO_ARGS_IS_HELP as e:  # a bare command: its help
        e.show()
        sys.exit(2)
    except click.UsageError as e:  # one line, as every other bad input
        click.echo(f"sessionsim: {' '.join(e.format_message().split())}", err=True)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except LagExceeded as e:  # the generator could not keep the schedule
        click.echo(f"sessionsim: {e}", err=True)
        sys.exit(LAG_EXCEEDED)
    except RunFailed as e:  # the run went, and its sink failed it
        click.echo(f"sessionsim: {e}", err=True)
        sys.exit(1)
    except Error as e:  # bad input, from the harness, the simulator or a sessionizer
        click.echo(f"sessionsim: {e}", err=True)
        sys.exit(2)
