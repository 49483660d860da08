"""Typed columns (``text.Column``) as Arrow arrays, for Parquet files (imports pyarrow)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.text import Column

__all__ = ["arrow_array"]


def _strings(values: np.ndarray | list) -> pa.Array:
    """Plain ASCII ``S`` values (or ``str``) as an Arrow string array."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "S":
        if len(values) and (np.strings.str_len(values) == values.dtype.itemsize).all():
            w = values.dtype.itemsize  # no padding: the buffer is the values, side by side
            fixed = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(w), len(values), [None, pa.py_buffer(np.ascontiguousarray(values))]
            )
            return fixed.cast(pa.binary()).cast(pa.string())
        return pa.array(values.tolist(), type=pa.binary()).cast(pa.string())
    return pa.array(values, type=pa.string())


def _values(col: Column, values: np.ndarray | list, kind: str, typ: pa.DataType) -> pa.Array:
    if kind in ("str", "strs"):
        return _strings(values)
    if kind == "text":
        return pa.array(values, type=pa.string())
    if kind == "enum":
        return pa.array(col.table, type=pa.string()).take(pa.array(np.asarray(values)))
    if kind == "time":
        return pa.array(np.asarray(values, dtype=np.int64), type=pa.int64()).cast(typ)
    if kind in ("float", "floats"):
        return pa.array(np.round(np.asarray(values, dtype=np.float64), col.decimals), type=typ)
    return pa.array(np.asarray(values), type=typ)


def arrow_array(col: Column, typ: pa.DataType) -> pa.Array:
    """Return ``col`` as an Arrow array of type ``typ`` (nulls where ``col.null``)."""
    mask = None if col.null is None else pa.array(np.asarray(col.null, dtype=bool))
    if col.kind in ("strs", "ints", "floats"):
        assert col.offsets is not None  # list columns carry offsets
        inner = _values(col, col.values, col.kind, typ.value_type)
        offsets = pa.array(np.asarray(col.offsets, dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, inner, type=typ, mask=mask)
    array = _values(col, col.values, col.kind, typ)
    if mask is not None:
        array = pc.if_else(mask, pa.nulls(len(array), array.type), array)
    return array if array.type == typ else array.cast(typ)
