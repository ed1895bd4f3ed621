"""Imports only look down: command line → `assets/` → `ml/` → `warehouse/`.

Every import counts, including those inside functions, so a rule cannot be dodged by a late import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
COMMAND_LINE = "assets.command_line"
SERVICE = "assets.service"  # `credit serve`: beside the command line, at the top

# What each layer may not import, with the reason a reader would give.
FORBIDDEN = {
    "warehouse": {
        "ml": "storage and ingestion know nothing of models",
        "assets": "nor of Dagster",
        "dagster": "nor of Dagster",
        "dagster_dbt": "nor of Dagster",
    },
    "ml": {
        "assets": "model code runs from a notebook",
        "dagster": "model code runs from a notebook",
        "dagster_dbt": "model code runs from a notebook",
    },
    "assets": {
        COMMAND_LINE: "the command line is the top layer; nothing imports it",
        SERVICE: "the web service is a top layer; only the command line starts it",
    },
}


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str) -> list[tuple[str, set[str]]]:
    """Each absolute import of a source file, at any depth: its text and the modules it may bind.

    `from assets import command_line` binds `assets.command_line`, so both names count.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, {alias.name}) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}))
    return found


def _is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_violations(root: Path) -> list[str]:
    """`importer imports imported: reason` for every import that runs the wrong way under `root`."""
    violations = []
    for layer, forbidden in FORBIDDEN.items():
        for path in sorted((root / layer).rglob("*.py")):
            importer = _module_name(path, root)
            if _is_within(importer, COMMAND_LINE) or _is_within(importer, SERVICE):
                continue  # the top layers may use everything below them
            for imported, bound in imports(path.read_text(encoding="utf-8")):
                for package, reason in forbidden.items():
                    if any(_is_within(name, package) for name in bound):
                        violations.append(f"{importer} imports {imported}: {reason}")
    return sorted(set(violations))


def test_the_project_imports_only_downward():
    assert layer_violations(PROJECT) == []


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("warehouse/sample_data/extra.py", "from ml.training import train_model"),
        ("warehouse/ingestion/extra.py", "def f():\n    import assets.definitions"),
        ("ml/extra.py", "import dagster as dg"),
        ("ml/reports/extra.py", "from assets.partitions import monthly_partitions"),
        ("assets/extra.py", "from assets.command_line.main import main"),
        ("assets/extra.py", "from assets import command_line"),
    ],
)
def test_an_upward_import_is_caught(tmp_path, module, line):
    for package in ("warehouse", "ml", "assets"):
        (tmp_path / package).mkdir()
    target = tmp_path / module
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(line + "\n", encoding="utf-8")
    assert len(layer_violations(tmp_path)) == 1


def test_the_command_line_may_use_every_layer(tmp_path):
    (tmp_path / "assets" / "command_line").mkdir(parents=True)
    (tmp_path / "assets" / "command_line" / "main.py").write_text(
        "import assets.definitions\nimport ml.training\nimport warehouse.database\n", encoding="utf-8"
    )
    assert layer_violations(tmp_path) == []
