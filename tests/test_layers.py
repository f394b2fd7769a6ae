"""The house's floors: no import circle in charlm/ or demo/, and no import from a lower wing back up.

charlm's wings follow the chapter (data → network → sampling → training → lessons → serving, with the command
line on top), and a module may import only from its own wing or one below. demo/ sits on charlm: its shared
modules below the context every tab is built with, the tabs above it, the shell on top. The imports are read
from the source (every one: at the top, inside functions, and those only for type checkers), so a circle that
a lazy import hides is found too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHARLM_FLOORS = {
    "charlm.errors": 0,
    "charlm.files": 0,
    "charlm.data": 1,
    "charlm.network": 2,
    "charlm.sampling": 3,
    "charlm.training": 4,
    "charlm.lessons": 5,
    "charlm.serving": 6,
    "charlm.cli": 7,
    "charlm.__main__": 7,
    "charlm": 7,  # the package's own __init__: the public names, re-exported
}
DEMO_FLOORS = {"demo.context": 1, "demo.tabs": 2, "demo.language": 2, "demo.app": 3, "demo": 3}  # others: 0
WINGS = ("data", "network", "sampling", "training", "lessons", "serving")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for top in ("charlm", "demo") for p in (ROOT / top).rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that ``name`` imports, wherever in the file the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import m`` imports the module m; ``from m import name`` imports m
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``import charlm.data.vocab`` counts as that module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def floor_of(name: str, floors: dict[str, int]) -> int:
    """The floor of a module: its own entry, or its package's (a top package's entry is for its __init__ only)."""
    while name not in floors and "." in name.rpartition(".")[0]:
        name = name.rpartition(".")[0]
    return floors.get(name, 0)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_reader_finds_the_imports(graph):
    """The reader itself: relative imports, imports inside functions and modules named in ``from x import m``."""
    assert "charlm.sampling.fast.kernels" in graph["charlm.sampling.fast.products"]  # ``from . import kernels``
    assert "demo.views" in graph["demo.tabs.batches"]  # ``from .. import views``
    assert "charlm.sampling.sampler" in graph["charlm.training.loop"]
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle(graph):
    assert circles(graph) == []


def upward_imports(graph: dict[str, set[str]], top: str, floors: dict[str, int]) -> list[tuple[str, str]]:
    """The imports within package ``top`` that go from a module to one on a higher floor."""
    return [
        (name, target)
        for name, targets in graph.items()
        if name.split(".")[0] == top
        for target in targets
        if target.split(".")[0] == top and floor_of(target, floors) > floor_of(name, floors)
    ]


def test_an_upward_import_is_found():
    graph = {"charlm.data.vocab": {"charlm.training.loop", "charlm.errors"}, "demo.views": {"demo.tabs.train"}}
    assert upward_imports(graph, "charlm", CHARLM_FLOORS) == [("charlm.data.vocab", "charlm.training.loop")]
    assert upward_imports(graph, "demo", DEMO_FLOORS) == [("demo.views", "demo.tabs.train")]


def test_charlm_never_imports_upward(graph):
    assert upward_imports(graph, "charlm", CHARLM_FLOORS) == []


def test_charlm_never_imports_the_app(graph):
    assert [(n, t) for n, ts in graph.items() if n.startswith("charlm") for t in ts if t.startswith("demo")] == []
    for path in (ROOT / "charlm").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {n.split(".")[0] for n in names} & {"gradio", "matplotlib", "pandas", "spaces"}, path


def test_demo_never_imports_upward(graph):
    assert upward_imports(graph, "demo", DEMO_FLOORS) == []


def test_every_wing_says_what_it_is():
    for wing in (*WINGS, "sampling/fast"):
        doc = ast.get_docstring(ast.parse((ROOT / "charlm" / wing / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 25, wing


def test_no_module_shadows_the_standard_library():
    import sys

    for path in (ROOT / "charlm").rglob("*.py"):
        assert path.stem == "__init__" or path.stem == "__main__" or path.stem not in sys.stdlib_module_names, path
