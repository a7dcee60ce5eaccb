"""The package's layout as docs/architecture.md draws it: folders that import each other in one
direction only, and a pure core that imports nothing doing network I/O."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "logscrub"
CORE = ("parsing", "privacy", "crypto", "scrub")
# What the core may not import: our I/O folders, and the libraries that talk to a network.
IO_FOLDERS = ("kafka", "run", "files", "responders", "ops", "cli")
IO_LIBRARIES = ("kafka", "aiokafka", "faust", "mode", "http", "urllib.request", "prometheus_client", "socketserver")


def _unit(module: str) -> str:
    """The folder (or top-level module) a ``logscrub.*`` module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports() -> dict[str, set[str]]:
    """For each module of the package, the modules it imports (absolute names)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = "logscrub." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[module.removesuffix(".__init__")] = names
    return found


def _folder_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, names in _imports().items():
        for name in names:
            if name.startswith("logscrub.") and _unit(name) != _unit(module):
                graph[_unit(module)].add(_unit(name))
    return graph


def test_the_package_has_the_folders_the_docs_describe() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == {
        "parsing", "privacy", "crypto", "scrub", "files", "kafka", "run", "responders", "ops", "outputs", "cli"
    }
    doc = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
    for folder in folders:
        assert f"`{folder}/`" in doc, f"docs/architecture.md does not describe {folder}/"


def test_no_two_folders_import_each_other_even_through_others() -> None:
    graph = _folder_graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(f"{a} -> {b} -> ... -> {a}" for a in graph for b in graph[a] if reaches(b, a, {b}))
    assert not cycles, cycles


def test_the_pure_core_imports_no_network_io() -> None:
    bad = []
    for module, names in _imports().items():
        if _unit(module) not in CORE:
            continue
        for name in names:
            if name.startswith("logscrub.") and _unit(name) in IO_FOLDERS:
                bad.append(f"{module} imports {name}")
            elif any(name == lib or name.startswith(lib + ".") for lib in IO_LIBRARIES):
                bad.append(f"{module} imports {name}")
    assert not bad, bad
