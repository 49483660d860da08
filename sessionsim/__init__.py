"""sessionsim: simulate search-app users with ground truth; check sessionizers against it.

The Python face (see the README)::

    import sessionsim

    run = sessionsim.simulate(sessionsim.load_scenario("baseline", users=500))
    sessionsim.check(run, sessionizer="reference").gate(max_ctr_error=0.02)
"""

from sessionizer import Event, Late, Session, SessionConfig
from sessionsim.api import GateFailed, Report, Run, check, load_scenario, simulate, sweep

__all__ = [
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
