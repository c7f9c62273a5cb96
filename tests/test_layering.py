"""The packages are layers: each imports only what lies below it, and only `bot/` knows a
messaging library, so a channel is one more adapter and the core never learns its API. Checked on
the source (every import, also inside functions), since an import anywhere would pull it in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top; a package may import the ones before it.
LAYERS = ("language", "storage", "excel", "reports", "handlers", "bot")
MESSAGING = {"telegram", "httpx", "starlette", "uvicorn"}
MAX_LINES = 450
MAX_MODULES = 20


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def product_modules(package: str) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]


@pytest.mark.parametrize("package", LAYERS)
def test_layers_import_only_downward(package):
    above = set(LAYERS[LAYERS.index(package) + 1 :])
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & above)
        for path in product_modules(package)
        if imported_modules(path) & above
    }
    assert offenders == {}


@pytest.mark.parametrize("package", LAYERS[:-1])
def test_no_messaging_library_below_the_adapters(package):
    offenders = {
        str(path.relative_to(ROOT))
        for path in product_modules(package)
        if imported_modules(path) & MESSAGING
    }
    assert offenders == set()


def test_migrations_know_only_storage():
    offenders = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "storage" / "migrations").rglob("*.py")
        if imported_modules(path) & set(LAYERS[2:])
    }
    assert offenders == set()


@pytest.mark.parametrize("package", LAYERS)
def test_modules_stay_small(package):
    long = {
        str(path.relative_to(ROOT)): lines
        for path in product_modules(package)
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize("package", LAYERS)
def test_folders_stay_small(package):
    crowded = {
        str(folder.relative_to(ROOT)): count
        for folder in [ROOT / package, *(p for p in (ROOT / package).rglob("*") if p.is_dir())]
        if "migrations" not in folder.relative_to(ROOT).parts
        and (count := len(list(folder.glob("*.py")))) > MAX_MODULES
    }
    assert crowded == {}


# Inside `handlers/`, rooms by whom they serve: a role's package builds on the core, the form
# engine and the shared views and permissions, never on another role's package, so that what two
# roles both show or check lives once, in `shared/`. The router (in `core/`) is the one module
# that knows every role: it sends each command to its room.
ROLES = ("member", "coordinator", "admin")
BENEATH_ROLES = ("forms", "shared")


def handlers_packages_imported(path: Path) -> set[str]:
    """The `handlers` sub-packages a module imports (`handlers.member.reports` -> "member")."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            if node.module == "handlers":
                modules = [f"handlers.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {m.split(".")[1] for m in modules if m.startswith("handlers.")}
    return found


@pytest.mark.parametrize("role", ROLES)
def test_a_role_builds_on_no_other_role(role):
    others = set(ROLES) - {role}
    offenders = {
        str(path.relative_to(ROOT)): sorted(handlers_packages_imported(path) & others)
        for path in product_modules(f"handlers/{role}")
        if handlers_packages_imported(path) & others
    }
    assert offenders == {}


@pytest.mark.parametrize("package", BENEATH_ROLES)
def test_shared_rooms_know_no_role(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(handlers_packages_imported(path) & set(ROLES))
        for path in product_modules(f"handlers/{package}")
        if handlers_packages_imported(path) & set(ROLES)
    }
    assert offenders == {}
