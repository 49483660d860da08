"""Worker processes that end with their parent, rather than idling on as orphans."""

from __future__ import annotations

import ctypes
import os
import signal

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """In a child: be killed when the parent dies (Linux ``PR_SET_PDEATHSIG``), and exit now
    if it already has (it died between the fork and this call)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the parent's own cleanup must do
        pass
    if os.getppid() != parent_pid:
        os._exit(1)
