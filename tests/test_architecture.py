"""The layers of the code, read from its imports (README "Architecture").

Every `import` counts, including those inside functions (the CLI imports most commands
lazily, and an import cycle once ran through two of those); imports under
`if TYPE_CHECKING:` do not, since they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("parcours", "workflows", "activities")
LAYERS = ("kernel", "infrastructure", "application", "interfaces")
# The one command that serves the console may reach into the web interface.
CLI_SERVES_WEB = "parcours.interfaces.cli.web"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {"worker": ROOT / "worker.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _type_checking_block(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Name | ast.Attribute)
        and ast.unparse(node.test).endswith("TYPE_CHECKING")
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if _type_checking_block(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _import_nodes(node)


def _resolve(name: str) -> str | None:
    """The module of ours that `name` names, or the nearest package of ours holding it."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod.
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                targets.add(target)
    return targets


GRAPH = {module: imports_of(module) for module in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "parcours" and len(parts) > 1 and parts[1] in LAYERS else None


def test_the_graph_sees_imports_inside_functions() -> None:
    # A graph that only read module tops would miss the cycle this test exists to catch (it
    # once ran through two imports inside functions).
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import parcours.kernel.errors\n"
        "def f():\n    if True:\n        from parcours.kernel import authz\n"
    )
    assert [ast.unparse(n) for n in _import_nodes(tree)] == [
        "from typing import TYPE_CHECKING",
        "from parcours.kernel import authz",
    ]


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert _cycles(GRAPH) == []


def test_the_web_never_imports_the_cli() -> None:
    offending = sorted(
        (m, t)
        for m, targets in GRAPH.items()
        if m.startswith("parcours.interfaces.web")
        for t in targets
        if t.startswith("parcours.interfaces.cli")
    )
    assert offending == []


def test_the_cli_imports_the_web_only_in_the_command_that_serves_it() -> None:
    offending = sorted(
        (m, t)
        for m, targets in GRAPH.items()
        if m.startswith("parcours.interfaces.cli") and m != CLI_SERVES_WEB
        for t in targets
        if t.startswith("parcours.interfaces.web")
    )
    assert offending == []


@pytest.mark.parametrize("layer", LAYERS)
def test_layers_import_only_downwards(layer: str) -> None:
    """kernel <- infrastructure <- application <- interfaces: never upwards. workflows/ and
    activities/ stand beside the application layer: they use the kernel and the
    infrastructure, and neither of those imports them."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    offending = sorted(
        (m, t)
        for m, targets in GRAPH.items()
        if layer_of(m) == layer
        for t in targets
        if (layer_of(t) is not None and rank[layer_of(t) or ""] > rank[layer])
        or (t.split(".")[0] in ("workflows", "activities") and rank[layer] < rank["application"])
    )
    if layer == "infrastructure":
        # The worker runtime registers the workflows and activities it runs (and nothing of
        # the layers above: `python worker.py`, outside them, adds the process's life).
        offending = [
            (m, t)
            for m, t in offending
            if m != "parcours.infrastructure.worker"
            or t.split(".")[0] not in ("workflows", "activities")
        ]
    assert offending == []


def test_the_kernel_does_no_io() -> None:
    """The kernel is imported inside the workflow sandbox and by every interface: it reaches
    no database, network or file-system library."""
    heavy = ("sqlalchemy", "aiosmtplib", "fastapi", "starlette", "jinja2", "asyncpg", "alembic")
    offending = []
    for module, path in MODULES.items():
        if layer_of(module) != "kernel":
            continue
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            offending += [(module, n) for n in names if n.split(".")[0] in heavy]
    assert offending == []
