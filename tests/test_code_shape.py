"""The shape of the code (docs/architecture.md): short functions, packages of readable size.

Layers and cycles are import-linter's job (pyproject.toml); complexity is ruff's (C901). These two
measures have no tool of their own in the pipeline, so they are checked here, over the app code.
"""

import ast
import io
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = (
    "core", "accounts", "registry", "verification", "orgs", "support",
    "api", "desk", "backups", "perf", "demo", "portal",
)  # fmt: skip
MAX_FUNCTION_LINES = 60
MAX_FOLDER_LINES = 5000


def _app_files():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def _logical_lines(source: str) -> dict[int, int]:
    """For each physical line, the number of logical lines (statements, comments, decorators) that
    end on or before it: the formatter lays one call's arguments over many physical lines, and that
    layout says nothing about how much a function does."""
    ends = [tok.end[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type in (tokenize.NEWLINE, tokenize.COMMENT)]  # fmt: skip
    counts, seen = {}, 0
    for line in range(1, source.count("\n") + 2):
        while seen < len(ends) and ends[seen] <= line:
            seen += 1
        counts[line] = seen
    return counts


def test_no_function_is_longer_than_sixty_lines_outside_the_synthetic_data_generators():
    long = []
    for path in _app_files():
        if path.name.startswith("synthetic"):
            continue  # the generators: one long table-driven pass per block, by design
        source = path.read_text(encoding="utf-8")
        logical = _logical_lines(source)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                lines = logical[node.end_lineno] - logical[start - 1] if start > 1 else logical[node.end_lineno]
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "split these by job:\n" + "\n".join(long)


def test_no_folder_of_app_code_holds_more_than_five_thousand_lines_of_its_own():
    sizes: dict[Path, int] = {}
    for path in _app_files():
        sizes[path.parent] = sizes.get(path.parent, 0) + len(path.read_text(encoding="utf-8").splitlines())
    big = [f"{folder.relative_to(ROOT)}: {lines}" for folder, lines in sizes.items() if lines > MAX_FOLDER_LINES]
    assert not big, "make these packages with one module a topic:\n" + "\n".join(big)
