"""Every event of a run and its true visit, compactly: what ``check`` joins deliveries to.

The simulator's event ids are 16 lowercase hex digits, so each is kept as a 64-bit integer
in a sorted numpy array beside its visit (16 bytes an event, where a dict of strings takes
about 200): 19 million events fit in about 300 MB. Ids are parsed from Arrow's string
buffers in bulk and joined with ``searchsorted``. Any other id (a hand-made truth) goes to a
dict.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

__all__ = ["EventIndex", "id_keys"]

_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _k, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _k


def id_keys(ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Each id as an integer (uint64) and whether it is the simulator's form (16 lowercase
    hex digits); ids of another form (or null) get key 0 and False."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if ids.type != pa.string():
        ids = ids.cast(pa.string())
    n = len(ids)
    keys = np.zeros(n, dtype=np.uint64)
    if n == 0:
        return keys, np.zeros(0, dtype=bool)
    _, offsets_buf, data_buf = ids.buffers()
    offsets = np.frombuffer(offsets_buf, np.int32)[ids.offset : ids.offset + n + 1]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    ok = np.diff(offsets) == 16
    if ids.null_count:
        ok &= ids.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(ok)
    if len(rows) == n:  # every id has 16 characters: the buffer is an n x 16 matrix
        text = data[offsets[0] : offsets[0] + 16 * n].reshape(n, 16)
    else:
        text = data[offsets[rows][:, None] + np.arange(16)]
    nibbles = _NIBBLE[text]
    good = (nibbles < 16).all(axis=1)
    ok[rows[~good]] = False
    rows, nibbles = rows[good], nibbles[good]
    packed = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2])  # 8 bytes a row
    keys[rows] = packed.view(">u8").ravel()
    return keys, ok


class EventIndex:
    """Event id -> its position in the index and its true visit (an int)."""

    def __init__(self, parts: Iterable[tuple[pa.Array, np.ndarray]]) -> None:
        """Build from ``(ids, visits)`` batches; an id given twice keeps its first visit."""
        keys: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        self._other: dict[str, int] = {}  # other ids -> position (after the keys)
        other: list[tuple[str, int]] = []
        for ids, visits in parts:
            k, ok = id_keys(ids)
            visits = np.asarray(visits, dtype=np.int32)
            keys.append(k[ok])
            labels.append(visits[ok])
            if not ok.all():
                rest = np.flatnonzero(~ok)
                names = ids.take(pa.array(rest)).to_pylist()
                other.extend(zip(names, visits[rest].tolist()))
        key = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
        label = np.concatenate(labels) if labels else np.zeros(0, np.int32)
        order = np.argsort(key, kind="stable")
        self.keys = key[order]
        label = label[order]
        del key, order
        other_labels: list[int] = []
        for name, visit in other:
            if name is not None and name not in self._other:
                self._other[name] = len(self.keys) + len(other_labels)
                other_labels.append(visit)
        # Per position: its visit (an int32 row of truth/sessions).
        self.visits = np.concatenate((label, np.array(other_labels, np.int32)))

    def __len__(self) -> int:
        return len(self.visits)

    def lookup(self, ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Each id's position (0 .. len - 1) and visit; -1 and -1 when the truth does not
        know it."""
        return self.lookup_keys(ids, *id_keys(ids))

    def lookup_keys(
        self, ids: pa.Array, keys: np.ndarray, ok: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`lookup` with the ids' keys parsed already (``id_keys``)."""
        n = len(keys)
        pos = np.full(n, -1, dtype=np.int64)
        if len(self.keys):
            rows = np.flatnonzero(ok)
            probe = keys[rows]
            by = np.argsort(probe)  # sorted probes walk the keys in order: fewer cache misses
            at = np.empty(len(probe), dtype=np.int64)
            at[by] = np.searchsorted(self.keys, probe[by])
            np.minimum(at, len(self.keys) - 1, out=at)
            hit = self.keys[at] == probe
            pos[rows[hit]] = at[hit]
        if self._other and not ok.all():
            rest = np.flatnonzero(~ok)
            other = self._other
            for r, i in zip(rest.tolist(), ids.take(pa.array(rest)).to_pylist()):
                pos[r] = other.get(i, -1)
        label = np.where(pos >= 0, self.visits[np.maximum(pos, 0)], -1).astype(np.int64)
        return pos, label
