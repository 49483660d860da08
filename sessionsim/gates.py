"""Thresholds over any result, as k6 has them: ``KEY OP NUMBER`` (``ctr_abs_error<=0.01``,
``live.ack_latency_ms.p99_ms<250``), from ``--gate`` or a scenario's ``gates:``.

A key is a dotted path into the results (a check's ``Report``, or a live run's
``LiveSummary``); a missing measurement (null) fails its gate. A malformed gate, or a key
the results' record does not have, is bad input (one line, exit 2), found before any work
by ``check_keys``; a gate missed is named with its value (exit 3).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import msgspec.inspect as mi

from sessionsim.errors import SessionsimError

__all__ = ["OPS", "Gate", "check_keys", "missed", "parse_gate"]

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|==|!=|<|>)\s*([^\s<>=!]+)\s*")
_SHAPE = "expected KEY OP NUMBER, OP one of <=, <, >=, >, ==, != (e.g. 'ctr_abs_error<=0.01')"


@dataclass(frozen=True, slots=True)
class Gate:
    """One threshold: ``key op bound``."""

    text: str
    key: str
    op: str
    bound: float

    def miss(self, results: Mapping[str, Any], where: str = "--gate") -> str | None:
        """A line saying how ``results`` miss this gate, or None when they pass it."""
        value = _lookup(results, self.key, f"{where} {self.text!r}")
        if value is None:
            return f"{self.key} is not measured (null), not {self.op} {self.bound:g}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SessionsimError(
                f"{where} {self.text!r}: {self.key} is not a number (got {value!r})"
            )
        if OPS[self.op](value, self.bound):
            return None
        return f"{self.key} {value:g} not {self.op} {self.bound:g}"


def parse_gate(text: str, where: str = "--gate") -> Gate:
    """Parse ``KEY OP NUMBER``, or refuse it in one line."""
    match = _EXPR.fullmatch(text)
    if match is None:
        raise SessionsimError(f"{where} {text!r}: {_SHAPE}")
    key, op, raw = match.groups()
    try:
        bound = float(raw)
    except ValueError:
        raise SessionsimError(f"{where} {text!r}: {raw!r} is not a number") from None
    if not math.isfinite(bound):
        raise SessionsimError(f"{where} {text!r}: the bound must be finite (got {raw})")
    return Gate(text.strip(), key, op, bound)


def missed(
    gates: Iterable[Gate], results: Mapping[str, Any] | msgspec.Struct, where: str = "--gate"
) -> list[str]:
    """The lines of every gate ``results`` (a record or its JSON) miss (a key they lack is
    bad input, raised)."""
    data = msgspec.to_builtins(results) if isinstance(results, msgspec.Struct) else results
    return [line for g in gates if (line := g.miss(data, where)) is not None]


_OPEN = object()  # a mapping whose keys are data (failures by reason, realism metrics)


def _tree(t: mi.Type) -> Any:
    """The keys under a field of type ``t``: a dict of subtrees, ``_OPEN``, or None (a leaf)."""
    if isinstance(t, mi.UnionType):
        subtrees = [x for x in map(_tree, t.types) if x is not None]
        return subtrees[0] if subtrees else None
    if isinstance(t, mi.StructType):
        return {f.name: _tree(f.type) for f in t.fields}
    if isinstance(t, mi.DictType):
        return _OPEN
    return None


def check_keys(gates: Iterable[Gate], record: type[msgspec.Struct], where: str = "--gate") -> None:
    """Refuse, before any work, a gate whose key ``record`` (its type) does not have."""
    root = _tree(mi.type_info(record))
    for g in gates:
        node, parts = root, g.key.split(".")
        for depth, part in enumerate(parts):
            if node is _OPEN:
                break
            if not isinstance(node, dict) or part not in node:
                raise _unknown(f"{where} {g.text!r}", g.key, depth, node)
            node = node[part]


def _lookup(results: Mapping[str, Any], key: str, where: str) -> Any:
    node: Any = results
    for depth, part in enumerate(key.split(".")):
        if not isinstance(node, Mapping) or part not in node:
            raise _unknown(where, key, depth, node)
        node = node[part]
    return node


def _unknown(where: str, key: str, depth: int, node: Any) -> SessionsimError:
    """The one-line error of a key unknown below its first ``depth`` parts (``node``)."""
    here = ".".join(key.split(".")[:depth]) or "the results"
    known = sorted(node) if isinstance(node, Mapping) else []
    hint = f" (keys of {here}: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''})"
    return SessionsimError(f"{where}: unknown key {key!r}{hint if known else ''}")
