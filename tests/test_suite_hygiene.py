"""The suite's own rules, checked on its source: patterns that let a test pass when its subject
is broken, or fail only because the machine is slow, do not come back."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ORACLE_PACKAGES, missing_oracles

TESTS = Path(__file__).resolve().parent
SOURCES = {path.name: path.read_text(encoding="utf-8") for path in sorted(TESTS.glob("*.py"))}
THIS = Path(__file__).name


def _offenders(pattern: str) -> list[str]:
    compiled = re.compile(pattern, re.M)
    return [f"{name}:{text[:match.start()].count(chr(10)) + 1}"
            for name, text in SOURCES.items() if name != THIS
            for match in compiled.finditer(text)]


@pytest.mark.parametrize(("pattern", "why"), [
    (r"except (Exception|BaseException)?\s*:\s*\n\s*pass\b", "a swallowed error"),
    (r"except (Exception|BaseException)\s*(as \w+)?:\s*pass\b", "a swallowed error"),
    (r"if hasattr\([^)]*\) else True", "an assertion that holds when the attribute is missing"),
    (r"importorskip\(\s*[\"']bertkit", "a skip when bertkit's own module is broken"),
    (r"importorskip\(\s*[\"'](" + "|".join(ORACLE_PACKAGES) + r")\b",
     "a silent skip of an oracle: conftest requires them (import it plainly)"),
    (r"not landed", "a skip for code that should exist"),
    (r"assert [\"'][0-9]+[\"'] in ", "a digit substring (it matches temp paths)"),
    (r"and [\"'][0-9]+[\"'] in ", "a digit substring (it matches temp paths)"),
    (r"f[\"']\{\w+\}[\"'] in ", "a bare number as a substring (it matches temp paths)"),
])
def test_no_pattern_that_lets_a_test_pass_regardless(pattern, why):
    assert _offenders(pattern) == [], why


def _decorators(function: ast.FunctionDef) -> list[str]:
    return [ast.unparse(decorator) for decorator in function.decorator_list]


def test_every_hypothesis_test_has_no_deadline():
    missing = []
    for name, text in SOURCES.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef):
                decorators = _decorators(node)
                if any(d.startswith("given(") for d in decorators) and not any(
                        d.startswith("settings(") and "deadline=None" in d for d in decorators):
                    missing.append(f"{name}::{node.name}")
    assert missing == []


TRAINS = re.compile(r"TrainOptions\(|\"train\", \"--task\"|\[\"demo\"")


def test_every_module_that_trains_in_process_uses_one_torch_thread():
    offenders = []
    for name, text in SOURCES.items():
        if name == THIS or not TRAINS.search(text):
            continue
        module_wide = re.search(r"pytestmark = .*one_torch_thread", text)
        # A single test may ask for the fixture itself (test_run_report's real MRPC run).
        per_test = all("one_torch_thread" in _function_source(text, line)
                       for line in _lines_matching(text, TRAINS))
        if not (module_wide or per_test):
            offenders.append(name)
    assert offenders == []


def _lines_matching(text: str, pattern: re.Pattern[str]) -> list[int]:
    return [text[:m.start()].count("\n") + 1 for m in pattern.finditer(text)]


def _function_source(text: str, line: int) -> str:
    """The source of the top-level test function holding ``line`` (with its decorators)."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.lineno <= line <= node.end_lineno:
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            return "\n".join(text.splitlines()[start - 1:node.end_lineno])
    return ""


def test_a_missing_oracle_is_named():
    assert missing_oracles({"json": "stdlib", "no_such_module_bertkit_oracle": "fake-pkg"}) == \
        ["fake-pkg"]
    assert missing_oracles() == []  # conftest would have stopped the run otherwise
    assert {"tensorflow", "bert", "transformers", "seqeval", "sklearn"} <= set(ORACLE_PACKAGES)


def test_ci_runs_the_readme_test_command_with_the_oracle_tests():
    """The two-command promise: .ci/run is the README's second command, and it selects the
    full-data `oracle` comparisons that a plain `pytest` leaves out."""
    root = TESTS.parent
    ci_command = (root / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci_command in (root / "README.md").read_text(encoding="utf-8").splitlines()
    assert ci_command.endswith(".venv/bin/pytest -m 'not slow and not gpu'")
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert "-m 'not slow and not oracle and not gpu'" in pyproject
