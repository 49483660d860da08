"""``python -m sessionsim``: the command line."""

from sessionsim.entry import main

main()
