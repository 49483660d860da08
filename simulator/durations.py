"""Durations written like ``500ms``, ``90s``, ``30m``, ``1h30m``, ``1d``."""

from __future__ import annotations

import re

__all__ = ["DURATION_PATTERN", "format_duration", "parse_duration"]

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
DURATION_PATTERN = r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|d|h|m|s)\s*)+$"  # for JSON Schema
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|d|h|m|s))+")


def parse_duration(text: object) -> float:
    """Return the duration in seconds; raise ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError(f"expected a duration with a unit like '30m' or '250ms' (got {text!r})")
    s = text.strip().replace(" ", "")
    if not s or not _WHOLE.fullmatch(s):
        raise ValueError(f"expected a duration with a unit like '30m' or '250ms' (got {text!r})")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(s))


def format_duration(seconds: float) -> str:
    """Return the shortest exact spelling of ``seconds`` (``5400`` -> ``1h30m``)."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        n, ms = divmod(ms, size)
        if n:
            parts.append(f"{n}{unit}")
    if ms:
        parts.append(f"{ms}ms")
    return "".join(parts)
