"""Finding sessionizers: built-in names, the entry point group, or ``module:attribute``."""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points

from sessionizer.base import SessionizerFactory
from sessionizer.errors import SessionizerError

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "known_names", "resolve"]

ENTRY_POINT_GROUP = "sessionsim.sessionizers"

# Built-in sessionizers by name, as import paths so nothing is imported until used.
BUILTIN: dict[str, str] = {
    "reference": "sessionizer.gap:GapSessionizer",
    "vectorized": "sessionizer.vectorized:VectorizedSessionizer",
    "bytewax": "sessionizer.bytewax_engine:BytewaxSessionizer",
    "duckdb": "sessionizer.duckdb_engine:DuckDBSessionizer",
    "bytewax-window": "sessionizer.bytewax_window:BytewaxWindowSessionizer",
    "flink": "sessionizer.flink_engine:FlinkSessionizer",
    "spark": "sessionizer.spark_engine:SparkSessionizer",
    "spark-batch": "sessionizer.spark_engine:SparkBatchSessionizer",
}


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or "(no message)"


def _plugins() -> dict:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_names() -> list[str]:
    """Return the built-in names and those registered by installed plugins."""
    return sorted({*BUILTIN, *_plugins()})


def _load_path(path: str, name: str) -> object:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise SessionizerError(
            f"sessionizer {name!r}: expected module:attribute (e.g. mypkg.sessions:Mine)"
        )
    try:
        obj = importlib.import_module(module_name)
    except ImportError as e:
        raise SessionizerError(
            f"sessionizer {name!r}: cannot import {module_name!r}: {e}"
        ) from None
    except Exception as e:  # the plugin's own code failed: its type and message, one line
        raise SessionizerError(
            f"sessionizer {name!r}: importing {module_name!r} raised "
            f"{type(e).__name__}: {_one_line(e)}"
        ) from None
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SessionizerError(
                f"sessionizer {name!r}: module {module_name!r} has no attribute {attribute!r}"
            ) from None
    return obj


def resolve(name: str) -> SessionizerFactory:
    """Return the factory (usually a class taking a SessionConfig) that ``name`` means."""
    if name in BUILTIN:
        factory = _load_path(BUILTIN[name], name)
    elif name in (plugins := _plugins()):
        try:
            factory = plugins[name].load()
        except Exception as e:  # a broken plugin must not crash with a traceback
            raise SessionizerError(f"sessionizer {name!r}: cannot load plugin: {e}") from None
    elif ":" in name:
        factory = _load_path(name, name)
    else:
        known = known_names()
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SessionizerError(
            f"sessionizer: unknown name {name!r} (known: {', '.join(known)}; "
            f"or a module:attribute path){hint}"
        )
    if not callable(factory):
        raise SessionizerError(f"sessionizer {name!r}: {factory!r} is not callable")
    return factory
