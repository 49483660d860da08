"""The scenarios that ship with sessionsim (``scenarios/`` in the repository, installed as
the package ``sessionsim.scenarios``), found by path or by name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from simulator import SimulatorError

__all__ = ["bundled_names", "scenario_path"]


def _folder() -> Path:
    return Path(str(resources.files("sessionsim.scenarios")))


def bundled_names() -> list[str]:
    """The names of the bundled scenarios (``baseline``, ``late_mobile``, ...)."""
    return sorted(p.stem for p in _folder().glob("*.yaml"))


def scenario_path(text: str | Path) -> Path:
    """A scenario file: ``text`` itself if it exists, else the bundled scenario of that name
    (``baseline`` or ``baseline.yaml``); otherwise a one-line error listing the names."""
    path = Path(text)
    if path.exists():
        return path
    name = path.name.removesuffix(".yaml")
    if path.parent == Path(".") or path.parent.name == "scenarios":
        bundled = _folder() / f"{name}.yaml"
        if bundled.is_file():
            return bundled
    raise SimulatorError(
        f"{text}: no such scenario file (bundled scenarios: {', '.join(bundled_names())})"
    )
