"""The layering rules of docs/architecture.md, checked on the source itself.

``scenario/``, ``network/`` and ``population/`` sit below the strategy modules: at run time they
import nothing from ``strategies/`` (a ``TYPE_CHECKING`` import for annotations is fine), so
loading or validating a scenario, building a graph or sampling a population never drags in
strategy code, and a lever is added without touching them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

LOWER = ("scenario", "network", "population")


def runtime_imports(path: Path) -> list[str]:
    """Modules imported by ``path`` outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for b in node.body for n in ast.walk(b))
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
    return out


@pytest.mark.parametrize("package", LOWER)
def test_lower_layers_import_no_strategy_code(package: str) -> None:
    files = sorted((REPO / "simulation" / package).glob("*.py"))
    assert files
    bad = {
        f.name: [m for m in runtime_imports(f) if m.startswith("simulation.strategies")]
        for f in files
    }
    assert not {k: v for k, v in bad.items() if v}, bad


def test_strategy_modules_do_not_write_population_extra_directly() -> None:
    """Declared state goes through ``self.state(name)`` (owner) and ``model.read_state``."""
    for f in sorted((REPO / "simulation" / "strategies").glob("*.py")):
        text = f.read_text(encoding="utf-8")
        assert "extra.setdefault" not in text, f.name
        assert ".extra[" not in text, f.name
        assert "mark_converted(" not in text, f"{f.name}: convert with model.convert"
