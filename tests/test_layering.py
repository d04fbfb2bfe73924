"""Imports run one way: no module of bertkit imports from a layer above its own.

Every `import` statement counts, at module level or inside a function (a lazy import is still
a tie), so the layering cannot be defeated by moving an import into a function body.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bertkit"

# Lowest first. A module may import from its own layer and the layers below it.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"bertkit", "errors", "fsutil", "console", "data"}),
    frozenset({"tfrecord", "tokenization", "evaluate"}),
    frozenset({"prep"}),
    frozenset({"train"}),
    frozenset({"demo", "submission"}),
    frozenset({"commands"}),
    frozenset({"cli", "__main__"}),
)
# Areas that must not import each other although they share a layer: the readers, codecs
# and scorers at the bottom stand alone.
INDEPENDENT = frozenset({"tfrecord", "tokenization", "evaluate"})


def layer_of(area: str) -> int:
    for index, members in enumerate(LAYERS):
        if area in members:
            return index
    raise AssertionError(f"bertkit.{area} is in no layer of this test: place it in LAYERS")


def area_of(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "bertkit"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every bertkit import in ``path``."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return [(line, name) for line, name in found if name.split(".")[0] == "bertkit"]


def violations(path: Path) -> list[str]:
    own = area_of(module_name(path))
    problems = []
    for line, target in imported_modules(path):
        other = area_of(target)
        if other == own:
            continue
        upward = layer_of(other) > layer_of(own)
        sideways = own in INDEPENDENT and other in INDEPENDENT
        if upward or sideways:
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    return problems


def test_no_module_imports_from_a_layer_above_it() -> None:
    problems = [problem for path in sorted(PACKAGE.rglob("*.py")) for problem in violations(path)]
    assert problems == []


@pytest.mark.parametrize("source, expected", [
    ("from bertkit.train.model import BertModel\n", ["imports bertkit.train.model"]),
    ("def lazy():\n    import bertkit.commands.train\n", ["imports bertkit.commands.train"]),
    ("from ..train import data\n", ["imports bertkit.train"]),
    ("from bertkit.tokenization import reference\n", ["imports bertkit.tokenization"]),
    ("from bertkit.errors import InputError\nfrom . import squad_v1\n", []),
])
def test_the_check_sees_upward_sideways_and_lazy_imports(tmp_path, monkeypatch, source,
                                                         expected) -> None:
    # A stand-in module inside evaluate/, the bottom layer, written into a copy of the path
    # layout so that module_name() places it.
    package = tmp_path / "bertkit"
    (package / "evaluate").mkdir(parents=True)
    module = package / "evaluate" / "probe.py"
    module.write_text(source, encoding="utf-8")
    monkeypatch.setitem(globals(), "PACKAGE", package)
    found = violations(module)
    assert [problem.split(" ", 1)[1] for problem in found] == expected
