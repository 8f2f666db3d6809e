"""The layout's rules (ARCHITECTURE.md), checked on every module's imports with ``ast``.

* No module imports an underscored name from another module: ``from x import _y``, an import of
  another package's private module (``from routing._heap import ...``), or ``m._y`` where ``m``
  was imported from elsewhere (a module or a class). Within one package, its private modules are
  its own (``from ._heap import ...`` in routing). ruff's PLC2701 checks the first form too.
* Arrows run one way: each room imports only the rooms ARCHITECTURE.md allows it (below).
* Every package's ``__all__`` names something that is there.

Every violation is listed in one message, so that one run shows all that is left to do.
The generated gRPC code (``proto/mobility/v1/*_pb2*.py``) is not checked: protoc writes it.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

#: The rooms (top-level packages of the repository).
ROOMS = ("routing", "matching", "planning", "sim", "engine", "dashboard", "proto", "mobility", "benchmarks", "tests")

#: The rooms each room may import (ARCHITECTURE.md, "Folders (the rooms) and what each may touch").
#: routing imports nothing from the others; matching and planning import routing only; sim imports
#: routing, matching and planning, and talks to an engine only through the gRPC client (proto);
#: engine imports routing and matching (and the schema), never sim; the dashboard follows an
#: engine over gRPC, importing neither engine nor sim; proto holds the schema and the client-side
#: converters (onto matching's model); the command line may reach every product room; benchmarks
#: may use the product; tests may import anything. No product room imports benchmarks or tests,
#: except the command line's ``mobility bench`` commands (functions named ``*bench*`` in mobility).
ALLOWED: dict[str, frozenset[str]] = {
    "routing": frozenset(),
    "matching": frozenset({"routing"}),
    "planning": frozenset({"routing"}),
    "sim": frozenset({"routing", "matching", "planning", "proto"}),
    "engine": frozenset({"routing", "matching", "proto"}),
    "dashboard": frozenset({"routing", "matching", "planning", "proto"}),
    "proto": frozenset({"routing", "matching"}),
    "mobility": frozenset({"routing", "matching", "planning", "sim", "engine", "dashboard", "proto"}),
    "benchmarks": frozenset({"routing", "matching", "planning", "sim", "engine", "dashboard", "proto", "mobility"}),
    "tests": frozenset(ROOMS),
}

GENERATED = re.compile(r"_pb2(_grpc)?\.pyi?$")


@dataclass(frozen=True)
class Module:
    path: Path  # relative to the repository
    name: str  # dotted, e.g. "routing.ch"; a package's __init__ is the package's name
    is_package: bool

    @property
    def room(self) -> str:
        return self.name.split(".")[0]

    @property
    def package(self) -> str:
        """The package relative imports start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


def modules() -> list[Module]:
    found = []
    for room in ROOMS:
        for path in sorted((REPO_ROOT / room).rglob("*.py")):
            rel = path.relative_to(REPO_ROOT)
            if GENERATED.search(path.name) or "__pycache__" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            found.append(Module(rel, ".".join(parts), is_package))
    return found


MODULES = modules()


@dataclass(frozen=True)
class Import:
    line: int
    module: str  # the absolute module imported from (``from m import x``) or imported (``import m``)
    names: tuple[tuple[str, str], ...]  # (name, bound as) for ``from m import name as bound``; () for ``import m``
    bound: tuple[str, str] | None  # for ``import a.b``: ("a", "a"); ``import a.b as c``: ("c", "a.b")
    function: str | None  # the function the import is in (None: at module level)


def imports(module: Module, tree: ast.Module) -> Iterator[Import]:
    """Every import of the module, anywhere in it (functions and TYPE_CHECKING blocks too), absolute."""

    def visit(node: ast.AST, function: str | None) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = (alias.asname, alias.name) if alias.asname else (alias.name.split(".")[0],) * 2
                yield Import(node.lineno, alias.name, (), bound, function)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target != "__future__":
                names = tuple((a.name, a.asname or a.name) for a in node.names)
                yield Import(node.lineno, target, names, None, function)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        for child in ast.iter_child_nodes(node):
            yield from visit(child, function)

    yield from visit(tree, None)


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def same_package(a: str, b: str) -> bool:
    """Whether modules ``a`` and ``b`` sit in one package (a private module is its package's own)."""
    return a.rpartition(".")[0] == b.rpartition(".")[0] or a.startswith(b + ".") or b.startswith(a + ".")


def private_name_violations(module: Module, tree: ast.Module) -> Iterator[str]:
    """Uses of the private names of the project's other modules (``os._exit`` and the like are not ours to judge)."""
    where = f"{module.path}"
    imported_from: dict[str, str] = {}  # local name -> the module it came from
    for imp in imports(module, tree):
        if imp.module.split(".")[0] not in ROOMS:
            continue
        private_parts = [p for p in imp.module.split(".") if private(p)]
        if private_parts and not same_package(module.name, imp.module):
            yield f"{where}:{imp.line}: imports the private module {imp.module}"
        if imp.bound:
            imported_from[imp.bound[0]] = imp.bound[1]
        for name, bound in imp.names:
            if private(name):
                yield f"{where}:{imp.line}: imports the private name {name} from {imp.module}"
            imported_from[bound] = f"{imp.module}.{name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            owner = dotted(node.value)
            root = owner.split(".")[0] if owner else ""
            if root in imported_from:
                yield f"{where}:{node.lineno}: reads {owner}.{node.attr} (private, of {imported_from[root]})"


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names, else None (a call, a subscript, ...)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def arrow_violations(module: Module, tree: ast.Module) -> Iterator[str]:
    allowed = ALLOWED[module.room]
    for imp in imports(module, tree):
        target = imp.module.split(".")[0]
        if target not in ROOMS or target == module.room or target in allowed:
            continue
        if module.room == "mobility" and target == "benchmarks" and "bench" in (imp.function or ""):
            continue  # `mobility bench ...` runs the benchmarks; no other command may reach them
        rooms = ", ".join(sorted(allowed)) or "no other room"
        yield f"{module.path}:{imp.line}: {module.room} imports {imp.module} ({module.room} may import: {rooms})"


def _in_order(found: list[str]) -> list[str]:
    """By file, then line."""
    return sorted(found, key=lambda v: (v.split(":")[0], int(v.split(":")[1])))


def _parsed() -> Iterator[tuple[Module, ast.Module]]:
    for module in MODULES:
        yield module, ast.parse((REPO_ROOT / module.path).read_text(), filename=str(module.path))


def test_the_rules_see_every_room() -> None:
    rooms = {m.room for m in MODULES}
    assert {"routing", "matching", "sim", "engine", "proto", "mobility", "benchmarks", "tests"} <= rooms
    assert all(
        name in ALLOWED
        for name in ROOMS
        if (REPO_ROOT / name).is_dir()  # planning/ and dashboard/ are to be built
    )


def test_no_module_imports_a_private_name_of_another() -> None:
    found = _in_order([v for module, tree in _parsed() for v in private_name_violations(module, tree)])
    assert not found, f"{len(found)} uses of another module's private names:\n" + "\n".join(found)


def test_imports_follow_the_arrows_of_the_architecture() -> None:
    found = _in_order([v for module, tree in _parsed() for v in arrow_violations(module, tree)])
    assert not found, f"{len(found)} imports against ARCHITECTURE.md:\n" + "\n".join(found)


@pytest.mark.parametrize("package", ["routing", "matching", "sim", "engine", "mobility"])
def test_a_package_exports_what_its_all_names(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert len(set(exported)) == len(exported), f"{package}.__all__ names something twice"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what the package does not have: {missing}"


# ---------------------------------------------------------------------------- the checks, checked
def _violations(source: str, name: str = "matching.x") -> list[str]:
    module = Module(Path(*name.split(".")).with_suffix(".py"), name, False)
    tree = ast.parse(source)
    return [*private_name_violations(module, tree), *arrow_violations(module, tree)]


def test_the_checks_catch_what_they_should() -> None:
    assert _violations("from routing.schedule import _LOC") == [
        "matching/x.py:1: imports the private name _LOC from routing.schedule"
    ]
    assert len(_violations("from routing._heap import heap_pop")) == 1
    assert len(_violations("from routing import schedule\nschedule._B")) == 1
    assert len(_violations("from matching.dispatcher import Dispatcher\nDispatcher._vehicle(d, 1)")) == 1
    assert len(_violations("import routing.schedule as s\ns._LOC")) == 1
    assert len(_violations("import routing.schedule\nrouting.schedule._LOC")) == 1
    assert _violations("def f():\n    from engine.core import EngineCore") == [
        "matching/x.py:2: matching imports engine.core (matching may import: routing)"
    ]
    assert len(_violations("from sim import Simulation", name="engine.y")) == 1
    assert len(_violations("from benchmarks.common import RESULTS_DIR", name="mobility.cli")) == 1
    assert len(_violations("def cmd_solve(a):\n    from benchmarks.checker import check", name="mobility.cli")) == 1
    assert len(_violations("from ..engine import core", name="matching.x")) == 1  # relative, resolved


def test_the_checks_let_pass_what_they_should() -> None:
    allowed = """
from __future__ import annotations
from routing import Router, __version__
from routing.schedule import LOC
from . import model
from ._private import helper
self._x = other._y
"""
    assert _violations(allowed) == []
    assert _violations("import os\nos._exit(1)\nfrom argparse import _SubParsersAction") == []
    assert len(_violations("from .model import _check")) == 1  # another module, though in one package
    assert _violations("from ._heap import heap_pop", name="routing.ch") == []
    assert _violations("from routing._heap import heap_pop", name="routing.ch") == []
    assert _violations("from engine import core\nfrom matching import Dispatcher", name="mobility.cli") == []
    assert _violations("def cmd_bench_paths(a):\n    from benchmarks.paths import run", name="mobility.cli") == []
