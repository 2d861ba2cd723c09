"""House style that a linter does not check: no function longer than a screen without a reason.

A function of more than ``MAX_LINES`` lines (from its ``def`` to its last line, docstring included,
decorators not) fails unless a comment starting ``# long:`` says why, on the line right above the
function (above its decorators, if it has any) or on its first lines (the ``def`` line through
the first statement of the body)::

    # long: one branch per layer type, each a few lines; split, they would hide the table
    def build_layer(spec, shape):
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MAX_LINES = 60
PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mnistlab"
MARK = "# long:"


def _reason(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The text after ``# long:`` in the places the module docstring names, or None."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    candidates = [lines[first - 2]] if first >= 2 else []
    candidates += lines[node.lineno - 1: node.body[0].lineno]  # the def line(s) through the first statement
    for line in candidates:
        at = line.find(MARK)
        if at >= 0 and line[at + len(MARK):].strip():
            return line[at + len(MARK):].strip()
    return None


def long_functions(path: Path) -> list[tuple[str, int, int, str | None]]:
    """(qualified name, line, length, reason) for every function in ``path`` over MAX_LINES lines."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    out: list[tuple[str, int, int, str | None]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    length = (child.end_lineno or child.lineno) - child.lineno + 1
                    if length > MAX_LINES:
                        out.append((name, child.lineno, length, _reason(lines, child)))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source, filename=str(path)), "")
    return out


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_is_there() -> None:
    assert len(MODULES) > 20


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_is_longer_than_a_screen_without_a_reason(path: Path) -> None:
    unexplained = [f"{path.relative_to(PACKAGE.parent)}:{line}: {name} is {length} lines (> {MAX_LINES})"
                   for name, line, length, reason in long_functions(path) if reason is None]
    assert not unexplained, ("shorten these, or say why they are long in a '# long: <why>' comment above "
                             "the def:\n" + "\n".join(unexplained))


def test_the_budget_sees_long_functions_and_reasons(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    (tmp_path / "m.py").write_text(
        f"def short():\n    return 1\n\n\ndef long():\n{body}\n\n"
        f"# long: a table, one row a line\n@staticmethod\ndef explained():\n{body}\n\n"
        f"class C:\n    def method(self):  # long: the same table\n{body.replace('    ', '        ')}\n"
        f"    def bare(self):\n        # long:\n{body.replace('    ', '        ')}")
    found = {name: (length, reason) for name, _, length, reason in long_functions(tmp_path / "m.py")}
    assert found == {"long": (MAX_LINES + 1, None), "explained": (MAX_LINES + 1, "a table, one row a line"),
                     "C.method": (MAX_LINES + 1, "the same table"), "C.bare": (MAX_LINES + 2, None)}
