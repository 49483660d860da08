"""Tables of columns: a batch of events as numpy arrays of one length, and the few
operations every stage uses on them."""

from __future__ import annotations

import numpy as np

__all__ = ["Events", "concat", "ranges", "runs", "size", "take"]

Events = dict[str, np.ndarray]  # columns of equal length (2-D columns: one row an event)


def concat(tables: list[Events]) -> Events:
    """Stack tables with the same columns (empty ones are skipped)."""
    tables = [t for t in tables if size(t)]
    if len(tables) == 1:
        return tables[0]
    if not tables:
        return {}
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


def take(table: Events, idx: np.ndarray) -> Events:
    """The rows ``idx`` of a table (an index array or a boolean mask)."""
    return {k: v[idx] for k, v in table.items()}


def size(table: Events) -> int:
    """Rows in a table."""
    return len(table["vid"]) if table else 0


def ranges(lo: np.ndarray | int, hi: np.ndarray) -> np.ndarray:
    """The indices ``lo[k]:hi[k]`` for every k, concatenated (``ranges(0, counts)`` numbers
    the items of each group from 0)."""
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64))
    counts = hi - lo
    starts = np.cumsum(counts) - counts
    return np.repeat(lo - starts, counts) + np.arange(int(counts.sum()))


def runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Runs of equal keys (rows sorted by key): the first row of each run, each row's run
    (0..k-1), and k."""
    new = np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, dtype=bool)
    first = np.flatnonzero(new)
    return first, np.cumsum(new) - 1, len(first)
