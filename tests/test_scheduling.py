"""The suite's scheduling (tests/conftest.py): the whole-system groups name modules that exist and hold slow tests,
so that a module renamed or moved does not silently leave its group and run beside the others."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import HEAVY_GROUPS

REPO = Path(__file__).resolve().parents[1]


def test_every_module_of_the_heavy_groups_exists_once_and_is_marked_slow() -> None:
    paths = [path for group in HEAVY_GROUPS.values() for path in group]
    assert len(paths) == len(set(paths))
    for path in paths:
        source = REPO / path
        assert source.is_file(), path
        marks = {node.attr for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.Attribute)}
        assert "slow" in marks, f"{path}: a whole-system module with no test marked slow"
