"""The engine stays pure: standard library and sortedcontainers only, no Django, no clock."""

import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"
ALLOWED = {"collections", "dataclasses", "decimal", "enum", "heapq", "sortedcontainers"}
FORBIDDEN_CALLS = {"time", "datetime", "random", "logging", "os", "socket", "threading"}


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def test_engine_imports_only_the_standard_library_it_needs():
    for path in ENGINE.glob("*.py"):
        imported = imported_modules(path)
        assert imported <= ALLOWED | {"__future__"}, (path.name, imported - ALLOWED)
        assert not imported & FORBIDDEN_CALLS, path.name


def test_importing_the_engine_and_its_tests_loads_no_django():
    code = (
        "import sys\n"
        "import matching.engine, matching.tests.reference_book, matching.tests.ledger\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django loaded'\n"
    )
    root = ENGINE.parent.parent
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
