"""Worker processes that end with their parent, rather than idling on as orphans."""

from __future__ import annotations

import ctypes
import os
import signal

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """In a child: be killed when the parent dies (Linux ``PR_SET_PDEATHSIG``), and exit now
    if it already has (it died between the fork and this call). The parent's signal
    handlers are not the child's: Ctrl-C (sent to the whole process group) is the parent's
    to handle, and the parent's SIGTERM ends the child quietly, without a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the parent's own cleanup must do
        pass
    if os.getppid() != parent_pid:
        os._exit(1)
