"""sessionsim: simulate search-app users with ground truth; check sessionizers against it.

The Python face (see the README)::

    import sessionsim

    run = sessionsim.simulate(sessionsim.load_scenario("baseline", users=500))
    sessionsim.check(run, sessionizer="reference").gate(max_ctr_error=0.02)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessionizer import Event, Late, Session, SessionConfig
    from sessionsim.api import GateFailed, Report, Run, check, load_scenario, simulate, sweep
    from sessionsim.errors import Error

# Loaded on first use: ``import sessionsim.X`` (the command line, the pytest plugin) does
# not pay for the whole API.
_WHERE = {
    **dict.fromkeys(("Event", "Late", "Session", "SessionConfig"), "sessionizer"),
    **dict.fromkeys(
        ("GateFailed", "Report", "Run", "check", "load_scenario", "simulate", "sweep"),
        "sessionsim.api",
    ),
    "Error": "sessionsim.errors",
}

__all__ = [
    "Error",
    "Event",
    "GateFailed",
    "Late",
    "Report",
    "Run",
    "Session",
    "SessionConfig",
    "check",
    "load_scenario",
    "simulate",
    "sweep",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sessionsim' has no attribute {name!r}")
