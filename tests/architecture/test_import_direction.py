"""Imports run with the flow: a module may import its own app and the apps below it, never
one above (ARCHITECTURE.md: accounts ← customers ← analytics ← reports). Function-level
imports count too: hiding an import inside a function does not change which way it points.
(That the core imports no Django is tests/analytics/core/test_reference.py's.)"""

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
