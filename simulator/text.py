"""Text made from columns: ids, times and JSON lines rendered a batch at a time with numpy.

The simulator makes no string per event in Python. A batch of rows arrives as typed
columns (``Column``); each value is rendered once, vectorised: hexadecimal ids through a
byte table, ISO times from integer arithmetic, small integers and fixed-decimal floats
from tables of their JSON text. ``json_lines`` then assembles the rows: rows with the same
set of present fields (and plain strings of the same widths) form a group, the group's
fixed-width fields are copied side by side into one byte matrix, and only variable-width
values (query text, counts, lists of varying length) are joined per row. The lines equal
what ``orjson.dumps`` writes for the same row as a dict (compact, keys in column order,
absent fields left out).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import orjson

from simulator.table import ranges

__all__ = [
    "Column",
    "hex_bytes",
    "hex_ids",
    "iso_times",
    "json_lines",
    "splitmix64",
]

_HEX = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype=np.uint8).reshape(256, 2)
_D2 = np.frombuffer(b"".join(b"%02d" % i for i in range(100)), dtype=np.uint8).reshape(100, 2)
_D3 = np.frombuffer(b"".join(b"%03d" % i for i in range(1000)), dtype=np.uint8).reshape(1000, 3)
_SMALL = 1 << 16
_INTS = np.array([b"%d" % i for i in range(_SMALL)], dtype=object)  # JSON text of 0..65535
_BOOLS = np.array([b"false", b"true"], dtype=object)
# ".f" of each fraction k / 10^d: d digits, trailing zeros dropped (one digit at least).
_FRACTIONS = {
    d: np.array(
        [b"." + (b"%0*d" % (d, k)).rstrip(b"0") if k else b".0" for k in range(10**d)],
        dtype=object,
    )
    for d in (3, 4)
}


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Return splitmix64's finaliser of ``x`` + the golden gamma (uint64, wrapping)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hex_ids(x: np.ndarray) -> np.ndarray:
    """Return each uint64 of ``x`` as 16 lowercase hexadecimal digits (a ``S16`` array)."""
    return hex_bytes(np.ascontiguousarray(x, dtype=">u8").view(np.uint8).reshape(-1, 8))


def hex_bytes(rows: np.ndarray) -> np.ndarray:
    """Return each row of a (n, k) uint8 matrix as 2k hexadecimal digits (``S{2k}``)."""
    k = rows.shape[1]
    return np.ascontiguousarray(_HEX[rows].reshape(-1, 2 * k)).view(f"S{2 * k}").ravel()


def iso_times(epoch_ms: np.ndarray) -> np.ndarray:
    """Return epoch milliseconds as ISO 8601 UTC with milliseconds (``S24``, ``...T..:..:..
    .mmmZ``); negative times are not rendered (the scenario starts after 1971)."""
    ms = np.asarray(epoch_ms, dtype=np.int64)
    out = np.empty((len(ms), 24), dtype=np.uint8)
    if len(ms):
        sec, frac = np.divmod(ms, 1000)
        day, sod = np.divmod(sec, 86_400)
        first = int(day.min())
        days = [
            time.strftime("%Y-%m-%dT", time.gmtime(d * 86_400)).encode()
            for d in range(first, int(day.max()) + 1)
        ]
        table = np.frombuffer(b"".join(days), dtype=np.uint8).reshape(-1, 11)
        hh, rest = np.divmod(sod, 3600)
        mm, ss = np.divmod(rest, 60)
        out[:, :11] = table[day - first]
        out[:, 11:13] = _D2[hh]
        out[:, 13] = ord(":")
        out[:, 14:16] = _D2[mm]
        out[:, 16] = ord(":")
        out[:, 17:19] = _D2[ss]
        out[:, 19] = ord(".")
        out[:, 20:23] = _D3[frac]
        out[:, 23] = ord("Z")
    return out.view("S24").ravel()


Kind = Literal["str", "text", "enum", "time", "int", "float", "bool", "strs", "ints", "floats"]


@dataclass(slots=True)
class Column:
    """One field of a batch of rows, typed.

    ``kind``: ``str`` (a ``S`` array of plain ASCII: ids, names), ``text`` (a list of
    ``str``, escaped as JSON), ``enum`` (integer codes into ``table``, a few names),
    ``time`` (epoch ms, int64), ``int``, ``float`` (rounded to
    ``decimals``), ``bool``, or a list of those per row (``strs``, ``ints``, ``floats``:
    row i holds ``values[offsets[i]:offsets[i + 1]]``). ``null`` marks missing values
    (True: null); ``omit`` leaves the key out of a row's JSON where it is null (else
    ``null`` is written).
    """

    name: str
    kind: Kind
    values: np.ndarray | list
    null: np.ndarray | None = None
    offsets: np.ndarray | None = None
    omit: bool = False
    decimals: int = 4
    table: tuple[str, ...] = ()


def _numbers(values: np.ndarray, kind: str, decimals: int) -> np.ndarray:
    """Return the JSON text of numbers (an object array of bytes)."""
    if kind == "bool":
        return _BOOLS[np.asarray(values, dtype=bool).astype(np.int64)]
    if kind == "int":
        v = np.asarray(values, dtype=np.int64)
        if len(v) and 0 <= v.min() and v.max() < _SMALL:
            return _INTS[v]
        return np.array([b"%d" % x for x in v.tolist()], dtype=object)
    v = np.asarray(values, dtype=np.float64)
    fractions = _FRACTIONS.get(decimals)
    if fractions is not None and len(v) and 0.0 <= v.min() and v.max() < _SMALL:
        # k / 10^d prints as its integer part, a point and its digits without trailing
        # zeros (one at least): what repr and orjson print for round(x, d) in this range.
        whole, part = np.divmod(np.rint(v * 10**decimals).astype(np.int64), 10**decimals)
        return _INTS[whole] + fractions[part]
    dumps = orjson.dumps
    return np.array([dumps(round(x, decimals)) for x in v.tolist()], dtype=object)


class _Rendered:
    """A column's values as JSON text: a fixed-width ``S`` matrix or per-row bytes."""

    __slots__ = ("fixed", "var")

    def __init__(self, fixed: np.ndarray | None = None, var: np.ndarray | None = None) -> None:
        self.fixed = fixed  # (n, w) uint8
        self.var = var  # (n,) object array of bytes


def _quoted(s: np.ndarray) -> np.ndarray:
    """``"value"`` of each element of an ``S`` array, as a uint8 matrix (same width each)."""
    w = s.dtype.itemsize
    m = np.empty((len(s), w + 2), dtype=np.uint8)
    m[:, 0] = m[:, -1] = ord('"')
    m[:, 1:-1] = np.ascontiguousarray(s).view(np.uint8).reshape(-1, w)
    return m


def _uniform(s: np.ndarray) -> bool:
    """True when every element of an ``S`` array fills its width (no padding NULs)."""
    return not len(s) or bool((np.strings.str_len(s) == s.dtype.itemsize).all())


def _render(col: Column, rows: np.ndarray) -> _Rendered:
    """Render ``col``'s values at ``rows`` (none of them null)."""
    kind = col.kind
    if kind == "str":
        s = np.asarray(col.values)[rows]
        if _uniform(s):
            return _Rendered(fixed=_quoted(s))
        return _Rendered(var=np.array([b'"%s"' % x for x in s.tolist()], dtype=object))
    if kind == "time":
        return _Rendered(fixed=_quoted(iso_times(np.asarray(col.values)[rows])))
    if kind == "text":
        dumps, values = orjson.dumps, col.values
        return _Rendered(var=np.array([dumps(values[i]) for i in rows.tolist()], dtype=object))
    if kind == "enum":
        names = np.array([orjson.dumps(name) for name in col.table], dtype=object)
        return _Rendered(var=names[np.asarray(col.values)[rows]])
    if kind in ("int", "float", "bool"):
        return _Rendered(var=_numbers(np.asarray(col.values)[rows], kind, col.decimals))
    return _render_lists(col, rows)


def _render_lists(col: Column, rows: np.ndarray) -> _Rendered:
    """Render list columns: each row's values joined, in brackets. Rows of plain strings
    with one count (a page of 10 items) are rendered as one byte matrix per count."""
    assert col.offsets is not None  # list columns carry offsets
    lo, hi = col.offsets[rows], col.offsets[rows + 1]
    counts = hi - lo
    values = np.asarray(col.values)[ranges(lo, hi)]
    out = np.empty(len(rows), dtype=object)
    if col.kind == "strs" and _uniform(values):
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        for k in np.unique(counts).tolist():
            at = np.flatnonzero(counts == k)
            if k == 0:
                out[at] = [b"[]"] * len(at)
                continue
            picked = values[(starts[at][:, None] + np.arange(k)).ravel()]
            q = _quoted(picked)
            w = q.shape[1]
            m = np.empty((len(at), k * (w + 1) + 1), dtype=np.uint8)
            m[:, 0] = ord("[")
            body = m[:, 1:].reshape(len(at), k, w + 1)
            body[:, :, :w] = q.reshape(len(at), k, w)
            body[:, :-1, w] = ord(",")
            body[:, -1, w] = ord("]")
            out[at] = m.view(f"S{m.shape[1]}").ravel().tolist()
        return _Rendered(var=out)
    if col.kind == "strs":
        text = [b'"%s"' % x for x in values.tolist()]
    else:
        text = _numbers(values, col.kind[:-1], col.decimals).tolist()
    join, start = b",".join, 0
    for i, end in enumerate(np.cumsum(counts).tolist()):
        out[i] = b"[" + join(text[start:end]) + b"]"
        start = end
    return _Rendered(var=out)


def json_lines(columns: list[Column], n: int, prefix: np.ndarray | None = None) -> list[bytes]:
    """Return ``n`` rows as JSON lines (newline-terminated), fields in column order.

    ``prefix`` (an ``S`` array) is written before each line, as is (a merge key and a tab).
    """
    if n == 0:
        return []
    pattern = np.zeros(n, dtype=np.int64)
    bits: dict[int, int] = {}  # id of an optional column: its bit in a row's pattern
    for c in columns:
        if c.null is not None:
            bits[id(c)] = len(bits)
            pattern |= np.asarray(c.null, dtype=np.int64) << bits[id(c)]
    # Rows whose plain strings differ in width go to different groups, so that within a
    # group every such string is fixed-width (one byte matrix, no join per row).
    widths = [
        w
        for c in columns
        if c.kind == "str" and c.null is None and not _uniform(np.asarray(c.values))
        for w in [np.strings.str_len(c.values)]
        if w.max() < 64
    ]
    for w in widths:
        pattern = pattern * 64 + w
    patterns = np.unique(pattern)
    out = np.empty(n, dtype=object)
    for key_of_group in patterns.tolist():
        p = key_of_group
        for _ in widths:
            p //= 64
        rows = np.flatnonzero(pattern == key_of_group) if len(patterns) > 1 else np.arange(n)
        parts: list[tuple[bytes, _Rendered | None]] = []
        for c in columns:
            missing = c.null is not None and (p >> bits[id(c)]) & 1
            if missing and c.omit:
                continue
            key = orjson.dumps(c.name) + b":"
            parts.append((key, None if missing else _render(c, rows)))
        out[rows] = _assemble(parts, len(rows), None if prefix is None else prefix[rows])
    return out.tolist()


def _assemble(
    parts: list[tuple[bytes, _Rendered | None]], n: int, prefix: np.ndarray | None
) -> list[bytes]:
    """Join rendered fields into lines: runs of fixed-width fields become one matrix."""
    segments: list[list[bytes]] = []
    run: list[np.ndarray] = []

    def close_run() -> None:
        if run:
            m = np.concatenate(run, axis=1)
            segments.append(np.ascontiguousarray(m).view(f"S{m.shape[1]}").ravel().tolist())
            run.clear()

    def constant(b: bytes) -> None:
        run.append(np.broadcast_to(np.frombuffer(b, dtype=np.uint8), (n, len(b))))

    if prefix is not None:
        segments.append(prefix.tolist())
    for k, (key, rendered) in enumerate(parts):
        constant((b"{" if k == 0 else b",") + key)
        if rendered is None:
            constant(b"null")
        elif rendered.fixed is not None:
            run.append(rendered.fixed)
        else:
            close_run()
            segments.append(rendered.var.tolist())  # type: ignore[union-attr]
    constant(b"}\n")
    close_run()
    if len(segments) == 1:
        return segments[0]
    return list(map(b"".join, zip(*segments)))
