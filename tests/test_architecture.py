"""The package's import graph: data flows one way (read → check → consolidate → result → writers).

Every import is counted, lazy ones inside functions and ``TYPE_CHECKING`` ones too: a writer that
imports ``consolidate`` back, even lazily, is the cycle issue 12 removed.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kpi_xl"
WRITERS = ("summary", "hq", "history", "web.data", "web.build")
# None left: docs renders the CLI's help from the typer app the CLI hands it, so it never imports cli.
KNOWN_CYCLES: list[set[str]] = []


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - node.level + 1] if node.level > 1 else package
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                names = [f"{target}.{a.name}" if target else a.name for a in node.names]
                for candidate in [*names, target]:
                    if candidate in modules and candidate != name:
                        graph[name].add(candidate)
                        break
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                mod = node.module if isinstance(node, ast.ImportFrom) else None
                for full in ([mod] if mod else [a.name for a in node.names]):
                    if full and full.startswith("kpi_xl."):
                        target = full.removeprefix("kpi_xl.")
                        if target in modules and target != name:
                            graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_writer_imports_consolidate() -> None:
    graph = _graph()
    for writer in WRITERS:
        assert "consolidate" not in graph[writer], writer
        assert "result" in graph[writer] or writer.startswith("web"), writer
    assert "result" in graph["consolidate"]
    assert graph["result"] <= {"scoring"}, "the result model sits below everything it serves"


def test_the_only_import_cycle_is_the_known_one() -> None:
    assert sorted(map(sorted, _cycles(_graph()))) == sorted(map(sorted, KNOWN_CYCLES))


def test_old_imports_still_work() -> None:
    from kpi_xl import consolidate, result
    from kpi_xl.demo import sample_catalog_path

    assert consolidate.ConsolidationResult is result.ConsolidationResult
    assert consolidate.Status is result.Status and consolidate.Submission is result.Submission
    assert sample_catalog_path().name == "catalog_2564.yaml"
