"""No import cycle between firmpass's packages.

Read statically with `ast` (nothing is imported): every `import firmpass.x...` / `from firmpass.x ...`
(and relative imports) in src/firmpass, attributed to the top-level unit it sits in (a subpackage such
as `report`, or a top-level module such as `pipeline`) and to the unit it names.  An import at module
level (including under `try:`/`if`, but not under `if TYPE_CHECKING:`) runs when the module loads; one
inside a function runs when the function is called.

- A cycle of module-level imports between units fails the test.
- A cycle closed by imports inside functions (A needs B at load time, B calls into A later) fails it
  too: a saved scan is resumed through pipeline.load_context, shared wording lives in present/, and
  a format two stages read lives in formats/, so no package needs to call back into one that needs it.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "firmpass"
ROOT_UNIT = "firmpass"  # firmpass/__init__.py itself (the version)


def _units() -> set[str]:
    return {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


def _unit(dotted: str, units: set[str]) -> str | None:
    parts = dotted.split(".")
    if parts[0] != "firmpass":
        return None
    if len(parts) > 1 and parts[1] in units:
        return parts[1]
    return ROOT_UNIT


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports() -> list[tuple[str, str, str, str]]:
    """(from_unit, to_unit, 'module'|'function', 'path:line') for every import between two units."""
    units = _units()
    found: list[tuple[str, str, str, str]] = []
    for path in sorted(SRC.rglob("*.py")):
        mod, is_pkg = _module_name(path)
        here = _unit(mod, units)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

        def targets(node: ast.AST) -> list[str]:
            if isinstance(node, ast.Import):
                return [a.name for a in node.names]
            assert isinstance(node, ast.ImportFrom)
            if node.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from firmpass import report` names a unit; `from firmpass import __version__` the root
            return [f"{stem}.{a.name}" if stem == "firmpass" else stem for a in node.names]

        def walk(node: ast.AST, level: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child):
                    for sub in child.orelse:
                        walk(sub, level)
                    continue
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    for target in targets(child):
                        there = _unit(target, units)
                        if there is not None and there != here:
                            found.append((here, there, level, f"{path.relative_to(SRC.parent)}:{child.lineno}"))
                    continue
                inner = "function" if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else level
                walk(child, inner)

        walk(tree, "module")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return sorted(out)


def test_the_scanner_sees_the_imports_it_must():
    """The reader is not vacuous: known imports of the tree are found at the level they are at."""
    found = imports()
    assert len(found) > 50
    assert any(a == "evidence" and b == "present" and lvl == "module" for a, b, lvl, _ in found)
    assert any(a == "cli" and b == "pipeline" and lvl == "function" for a, b, lvl, _ in found)
    assert any(a == "report" and b == "pipeline" and lvl == "function" for a, b, lvl, _ in found)


def test_cycle_finder_on_a_known_graph():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(g) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_packages():
    found = imports()
    module_level: dict[str, set[str]] = defaultdict(set)
    everything: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a, b, level, at in found:
        everything[a].add(b)
        where[(a, b)].append(f"{at} ({level})")
        if level == "module":
            module_level[a].add(b)

    bad = cycles(module_level)
    detail = []
    for comp in bad:
        detail += [f"  {a} -> {b}: {', '.join(where[(a, b)])}" for a in comp for b in sorted(module_level[a]) if b in comp]
    assert not bad, "import cycle between packages at module level:\n" + "\n".join(detail)

    # Cycles that exist only through imports inside functions fail as well, each import named.
    listed = []
    for comp in cycles(everything):
        for a in comp:
            for b in sorted(everything[a]):
                if b in comp and b not in module_level[a]:
                    listed += [f"{a} -> {b} at {w}" for w in where[(a, b)]]
    assert not listed, "function-level imports closing a cycle between packages:\n" + "\n".join(sorted(listed))
