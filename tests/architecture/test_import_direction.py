"""Imports run with the flow: a module may import its own app and the apps below it, never
one above (docs/architecture.md: accounts ← customers ← analytics ← reports ← workflow).
Function-level imports count too: hiding an import inside a function does not change which
way it points. (That the core imports no Django is tests/analytics/core/test_reference.py's.)"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Lowest first. Apps on one level may not import each other.
LAYERS = (
    ("revtrend_site",),  # infrastructure: queueing, middleware, csp, logs
    ("audit",),
    ("accounts",),
    ("customers",),
    ("analytics",),
    ("reports", "backtests"),
    ("workflow",),
    ("operations",),
)
LEVEL = {app: level for level, apps in enumerate(LAYERS) for app in apps}
# The project's wiring knows every app by design.
WIRING = {"revtrend_site/settings.py", "revtrend_site/urls.py", "revtrend_site/celery.py"}


def project_modules():
    for app in LEVEL:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative in WIRING:
                continue
            yield app, relative, path


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[0] for name in names} & set(LEVEL)


def test_every_import_runs_with_the_flow():
    against = []
    for app, relative, path in project_modules():
        for other in imported_apps(path):
            if other != app and LEVEL[other] >= LEVEL[app]:
                against.append(f"{relative} imports {other}")
    assert against == []


def project_module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, module: str, known: set[str]) -> set[str]:
    """The project modules ``path`` imports, anywhere in it (a relative import resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in candidates if name in known)
    return found


def test_no_module_imports_itself_back():
    """No import circle between the project's modules, not even one broken by an import
    inside a function: services queue tasks by name, the offline narrator imports the LLM
    client's types and not the reverse. (``apps.py`` connecting its signals is wiring.)"""
    paths = {
        project_module_name(path): path
        for _, relative, path in project_modules()
        if not relative.endswith("/apps.py")
    }
    graph = {
        name: imported_modules(path, name, set(paths)) - {name} for name, path in paths.items()
    }
    # A package's __init__ re-exporting its modules is not a circle with them.
    for name in graph:
        graph[name] = {other for other in graph[name] if not name.startswith(f"{other}.")}
    circles = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                circles.append(" → ".join([*trail[trail.index(other) :], other]))
            elif other not in state:
                visit(other, [*trail, other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []
