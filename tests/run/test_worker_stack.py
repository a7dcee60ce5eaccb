"""The worker process runs one Kafka client stack (aiokafka, under faust): no kafka-python in it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "logscrub"


def _imports_of(module: str) -> set[str]:
    """Every module ``module`` imports, at its top or inside a function."""
    parts = module.split(".")[1:]
    path = PACKAGE.joinpath(*parts).with_suffix(".py")
    if not path.exists():
        path = PACKAGE.joinpath(*parts, "__init__.py")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _closure(start: str) -> dict[str, set[str]]:
    """logscrub modules reachable from ``start``, with what each imports."""
    seen: dict[str, set[str]] = {}
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen[module] = _imports_of(module)
        for name in seen[module]:
            if name.startswith("logscrub.") and _is_module(name) and name not in seen:
                todo.append(name)
    return seen


def _is_module(name: str) -> bool:
    parts = name.split(".")[1:]
    return PACKAGE.joinpath(*parts).with_suffix(".py").exists() or PACKAGE.joinpath(*parts, "__init__.py").exists()


def test_nothing_the_worker_imports_uses_kafka_python() -> None:
    reached = _closure("logscrub.run.worker")
    assert "logscrub.run.rawloop" in reached and "logscrub.kafka.shared_keys" in reached  # the walk works
    users = sorted(m for m, names in reached.items() if any(n == "kafka" or n.startswith("kafka.") for n in names))
    assert users == [], f"these modules of the worker import kafka-python: {users}"


def test_starting_the_worker_command_loads_no_kafka_python() -> None:
    code = (
        "import sys; import logscrub.cli.main, logscrub.run.worker; "
        "print(sorted(m for m in sys.modules if m == 'kafka' or m.startswith('kafka.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
