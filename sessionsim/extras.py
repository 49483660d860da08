"""Optional parts of the install: a module an extra provides, or a one-line error that
names the extra to install (``pip install 'sessionsim[plot]'``)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from sessionsim.errors import SessionsimError

__all__ = ["FIGURE_FORMATS", "figure_format", "installed", "need"]

FIGURE_FORMATS = ("png", "svg", "pdf")  # a figure's format follows its file's suffix


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None


def need(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or refuse ``purpose`` in one line naming the extra that has it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SessionsimError(
            f"{purpose} needs {module}: pip install 'sessionsim[{extra}]'"
        ) from None


def figure_format(path: Path, flag: str) -> str:
    """The format a figure file's suffix names (``.png``, ``.svg``, ``.pdf``), or one line."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise SessionsimError(
            f"{flag} {path}: expected a .png, .svg or .pdf file (the suffix picks the format)"
        )
    return fmt
