"""Every event of a run and its true visit, compactly: what ``check`` joins deliveries to.

The simulator's event ids are 16 lowercase hex digits, so each is kept as a 64-bit integer
in a sorted numpy array beside its visit (17 bytes an event with the delivered flag, where a
dict of strings takes about 200): 19 million events fit in about 330 MB. Any other id (a
hand-made truth) goes to a dict.
"""

from __future__ import annotations

from array import array

import numpy as np

__all__ = ["Deliveries", "EventIndex", "REPEAT"]

REPEAT = object()  # a delivery of an id already delivered


def _key(event_id: str) -> int | None:
    """The id as an integer when it is the simulator's form (16 lowercase hex digits)."""
    if len(event_id) != 16:
        return None
    try:
        k = int(event_id, 16)
    except ValueError:
        return None
    return k if f"{k:016x}" == event_id else None


class EventIndex:
    """Event id -> true visit (an int), and which ids were delivered already."""

    def __init__(self) -> None:
        self._keys, self._labels = array("Q"), array("q")
        self._other: dict[str, int] = {}
        self.keys = np.zeros(0, np.uint64)
        self.labels = np.zeros(0, np.int64)

    def add(self, event_id: str, label: int) -> None:
        k = _key(event_id)
        if k is None:
            self._other[event_id] = label
        else:
            self._keys.append(k)
            self._labels.append(label)

    def freeze(self) -> None:
        """Sort what was added; call once, before any lookup."""
        keys = np.frombuffer(self._keys, np.uint64) if self._keys else np.zeros(0, np.uint64)
        labels = np.frombuffer(self._labels, np.int64) if self._labels else np.zeros(0, np.int64)
        order = np.argsort(keys, kind="stable")
        self.keys, self.labels = keys[order], labels[order]
        self._keys, self._labels = array("Q"), array("q")

    def __len__(self) -> int:
        return len(self.keys) + len(self._other)

    def _positions(self, ids: list[str]) -> tuple[list[int | None], list]:
        """Each id's position in the sorted keys (None: not a simulator id) and label."""
        keys = [_key(i) for i in ids]
        known = [k for k in keys if k is not None]
        out_pos: list[int | None] = [None] * len(ids)
        out_label: list = [None] * len(ids)
        if known and len(self.keys):
            probe = np.array(known, np.uint64)
            pos = np.searchsorted(self.keys, probe)
            np.minimum(pos, len(self.keys) - 1, out=pos)
            hit = self.keys[pos] == probe
            pos_list, hit_list = pos.tolist(), hit.tolist()
            label_list = self.labels[pos].tolist()
            j = 0
            for n, k in enumerate(keys):
                if k is not None:
                    if hit_list[j]:
                        out_pos[n], out_label[n] = pos_list[j], label_list[j]
                    j += 1
        for n, (k, event_id) in enumerate(zip(keys, ids)):
            if k is None and event_id in self._other:
                out_label[n] = self._other[event_id]
        return out_pos, out_label

    def labels_of(self, ids: list[str]) -> list[int | None]:
        """Each id's visit (None when the truth does not know it)."""
        return self._positions(ids)[1]

    def deliveries(self) -> Deliveries:
        """A fresh record of which ids were delivered (one per pass over the events)."""
        return Deliveries(self)


class Deliveries:
    """One pass over a run's events: which ids were delivered already."""

    def __init__(self, index: EventIndex) -> None:
        self.index = index
        self._seen = bytearray(len(index.keys))
        self._seen_other: set[str] = set()

    def first(self, ids: list[str]) -> list:
        """Per id: its visit (None if unknown) on its first delivery, ``REPEAT`` after."""
        positions, labels = self.index._positions(ids)
        seen, out = self._seen, []
        for event_id, pos, label in zip(ids, positions, labels):
            if pos is not None:
                if seen[pos]:
                    out.append(REPEAT)
                    continue
                seen[pos] = 1
            else:
                if event_id in self._seen_other:
                    out.append(REPEAT)
                    continue
                self._seen_other.add(event_id)
            out.append(label)
        return out
