"""``python -m sessionsim``: the command line."""

from sessionsim.cli import main

main()
