"""The import graph: each package is used from outside only through its public face, and no
module imports another that imports it back (type-checking and deferred imports count)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("simulator", "sessionizer", "sessionsim")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):  # sub-packages too
            found[_module_name(path)] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every project module ``path`` imports, at any depth of its code."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n.split(".")[0] in PACKAGES}


GRAPH = {name: _imports(path) for name, path in _modules().items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle of ``graph`` as a path, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_a_package(package):
    inner = {
        name: {m for m in deps if m.split(".")[0] == package and m != package}
        for name, deps in GRAPH.items()
        if name.split(".")[0] == package and name != package
    }
    assert _cycle(inner) is None


def test_packages_meet_only_through_their_faces():
    crossings = sorted(
        f"{name} imports {dep}"
        for name, deps in GRAPH.items()
        for dep in deps
        if dep.split(".")[0] != name.split(".")[0] and dep not in PACKAGES and dep != ERROR_ROOT
    )
    assert crossings == []


ERROR_ROOT = "sessionsim.errors"  # the distribution's one error root: it imports nothing


def test_the_simulator_and_the_sessionizers_do_not_know_each_other():
    for name, deps in GRAPH.items():
        home = name.split(".")[0]
        if home in ("simulator", "sessionizer"):
            assert not {d for d in deps if d.split(".")[0] != home and d != ERROR_ROOT}, name


def test_the_error_root_imports_nothing_of_the_project():
    assert GRAPH[ERROR_ROOT] == set()
