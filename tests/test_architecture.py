"""The package's import graph: no cycles, and every import inside a function says why.

An import inside a function hides an edge of the graph from a reader, so it counts
here like any other, and it must carry a comment (on its line or the line before;
one comment covers the block of imports right below it) saying why it is not at the top:
an optional extra, start-up time, or a reason named in the comment. An import directly
under ``with needs("extra", ...):`` names its extra in the code and needs no comment.
The graph is built from the source with :mod:`ast` (nothing is imported); imports under
``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "autotts"
# Comments that are pragmas for a tool, not a reason.
PRAGMAS = ("# noqa", "# type:", "# pragma")


@dataclass(frozen=True)
class ImportSite:
    module: str  # the importing module
    where: str  # path:line, for the failure message
    targets: tuple[str, ...]  # the autotts modules the statement runs
    in_function: bool
    explained: bool


def _modules() -> dict[str, Path]:
    names = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _comment_lines(source: str) -> set[int]:
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and not token.string.startswith(PRAGMAS):
            lines.add(token.start[0])
    return lines


def _is_type_checking(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_needs_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.With) and any(
        isinstance(item.context_expr, ast.Call)
        and isinstance(item.context_expr.func, ast.Name)
        and item.context_expr.func.id == "needs"
        for item in node.items
    )


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, packages: set[str], modules: set[str]
) -> tuple[str, ...]:
    """The autotts modules an import statement runs. Their parent packages run first
    too, but that edge is left out: a package's ``__init__`` re-exporting its modules
    would otherwise make every module of it a cycle."""
    if isinstance(node, ast.Import):
        return tuple(alias.name for alias in node.names if alias.name in modules)
    base = node.module or ""
    if node.level:  # relative: resolved against the importing module's package
        package = module.split(".") if module in packages else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base]) if base else ".".join(package)
    found = []
    for alias in node.names:
        if f"{base}.{alias.name}" in modules:
            found.append(f"{base}.{alias.name}")
        elif base in modules:
            found.append(base)
    return tuple(found)


def _sites() -> list[ImportSite]:
    paths = _modules()
    modules = set(paths)
    packages = {name for name, path in paths.items() if path.name == "__init__.py"}
    sites: list[ImportSite] = []
    for module, path in paths.items():
        source = path.read_text(encoding="utf-8")
        comments = _comment_lines(source)
        where = path.relative_to(SRC.parent)

        def visit(
            body: list[ast.stmt],
            in_function: bool,
            in_needs: bool,
            module: str = module,
            where: Path = where,
            comments: set[int] = comments,
        ) -> None:
            run_explained = False  # of the block of imports the current one continues
            in_block = False
            for node in body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    said = bool({node.lineno, node.lineno - 1} & comments)
                    explained = in_needs or said or (in_block and run_explained)
                    sites.append(
                        ImportSite(
                            module,
                            f"{where}:{node.lineno}",
                            _targets(node, module, packages, modules),
                            in_function,
                            explained,
                        )
                    )
                    run_explained = explained
                    in_block = True
                    continue
                in_block = False
                if _is_type_checking(node):
                    assert isinstance(node, ast.If)
                    visit(node.orelse, in_function, in_needs)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    visit(node.body, True, False)
                elif isinstance(node, ast.ClassDef):
                    visit(node.body, in_function, False)
                else:
                    needs = in_needs or _is_needs_block(node)
                    for child in ast.iter_child_nodes(node):
                        if isinstance(child, ast.ExceptHandler | ast.match_case):
                            visit(child.body, in_function, needs)
                    for field in ("body", "orelse", "finalbody"):
                        children = getattr(node, field, None)
                        if isinstance(children, list):
                            visit(
                                [c for c in children if isinstance(c, ast.stmt)], in_function, needs
                            )

        visit(ast.parse(source, str(path)).body, False, False)
    return sites


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a self-import
    (Tarjan's algorithm, iterative so a deep graph cannot hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    found.append(sorted(component))
    return found


def test_no_import_cycle() -> None:
    edges: dict[str, set[str]] = {name: set() for name in _modules()}
    for site in _sites():
        edges[site.module].update(site.targets)
    assert _cycles(edges) == []


def test_function_level_imports_say_why() -> None:
    unexplained = [site.where for site in _sites() if site.in_function and not site.explained]
    assert unexplained == []


def test_the_graph_sees_what_it_must() -> None:
    """The two checks above pass trivially if the walk misses imports: pin what it finds
    on known lines, and that a made-up cycle is found."""
    sites = {site.where: site for site in _sites()}
    top = sites["src/autotts/__init__.py:11"]
    assert top.targets == ("autotts.controllers.base",) and not top.in_function
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
