"""No module passes 400 lines outside migrations and tests (STYLE.md: a longer module is usually two concerns).

Issue 20 split the code by concern; this keeps it that way: a module that grows
past the bound fails here, and the fix is to split it by concern, not to cut it
at a line.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 400
SKIPPED_DIRS = {".venv", ".git", ".run", "migrations", "tests", "node_modules", "test-artifacts"}


def python_modules() -> list[Path]:
    return [path for path in ROOT.rglob("*.py") if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts[:-1])]


def test_the_walk_sees_the_apps():
    names = {path.relative_to(ROOT).as_posix() for path in python_modules()}
    assert {"coupons/redis.py", "waitingroom/redis.py", "config/settings/base.py"} <= names
    assert not any(name.startswith(("tests/", ".venv/")) or "/migrations/" in name for name in names)


def test_no_module_passes_400_lines():
    too_long = {}
    for path in python_modules():
        with path.open(encoding="utf-8") as source:
            lines = sum(1 for _ in source)
        if lines > LIMIT:
            too_long[path.relative_to(ROOT).as_posix()] = lines
    assert not too_long, f"split these by concern (STYLE.md): {too_long}"
