"""
The layers of the package, and a test that every import points downward.

    cli                      the command line
    analytics | forecasting  reports and charts | scoring, forecasts, simulation
    io                       definition files, JSON documents, SQL
    engine                   moving records: Funnel, transitions, explain, hooks, replay
    spec                     what a funnel is: guards, machine, table, definition, diagrams
    model                    records and what is known about them
    base                     funnel.exceptions, funnel._version, the helpers in funnel._base

A module may import from its own layer and from the layers below it, never from
above; analytics and forecasting are side by side and do not import each other.
Every import counts: at module level, under ``TYPE_CHECKING`` and inside functions.
Inside the package nothing imports the top-level facade ``funnel`` (its
``__init__``), which sits above every layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import funnel

SRC = Path(funnel.__file__).parent

RANK = {
    "base": 0,
    "model": 1,
    "spec": 2,
    "engine": 3,
    "io": 4,
    "analytics": 5,
    "forecasting": 5,
    "cli": 6,
}


def layer_of(module: str) -> str:
    """The layer of a ``funnel...`` module name."""
    parts = module.split(".")
    assert parts[0] == "funnel", module
    if len(parts) == 1:
        return "facade"
    head = parts[1]
    if head == "exceptions" or head.startswith("_"):
        return "base"
    assert head in RANK, f"{module} is in no layer: add its package to RANK"
    return head


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, here: str | None = None) -> list[tuple[int, str]]:
    """Every ``funnel`` module *path* (module *here*) imports, with the line number."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = here or module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.startswith("funnel"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == "funnel":
                # `from funnel import x`: x may be a submodule (a layer) or a facade name.
                for alias in node.names:
                    sub = f"funnel.{alias.name}"
                    is_module = (SRC / alias.name).is_dir() or (SRC / f"{alias.name}.py").is_file()
                    found.append((node.lineno, sub if is_module else "funnel"))
            elif target.startswith("funnel"):
                found.append((node.lineno, target))
    return found


#: The facade and ``python -m funnel`` sit above every layer.
TOP = (SRC / "__init__.py", SRC / "__main__.py")
MODULES = sorted(p for p in SRC.rglob("*.py") if p not in TOP)


def test_every_module_is_in_a_layer():
    for path in MODULES:
        assert layer_of(module_name(path)) in RANK, path


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_downward(path: Path):
    here = layer_of(module_name(path))
    for line, target in imports(path):
        there = layer_of(target)
        where = f"{path.relative_to(SRC.parent)}:{line} imports {target}"
        assert there != "facade", f"{where}: import from the layer's module, not the facade"
        if there == here:
            continue
        assert RANK[there] < RANK[here], f"{where}: {there} is not below {here}"


def test_the_folder_tree_shows_the_layers():
    """One package per layer (the base's helpers in ``_base``); beside them only the
    facade, the entry point, the version and the errors."""
    top = sorted(p.name for p in SRC.iterdir() if p.suffix == ".py" or p.is_dir())
    packages = {p for p in top if not p.endswith(".py") and p not in ("data", "__pycache__")}
    assert packages == set(RANK) - {"base"} | {"_base"}
    loose = {p for p in top if p.endswith(".py")}
    assert loose == {"__init__.py", "__main__.py", "_version.py", "exceptions.py"}, loose


def test_the_checker_sees_an_upward_import(tmp_path: Path):
    """The check would catch a model module importing the engine (the test can fail)."""
    bad = SRC / "model" / "records.py"
    source = (
        bad.read_text() + "\n\ndef _late():\n    from funnel.engine.funnel import DEFAULT_FUNNEL\n"
    )
    probe = tmp_path / "funnel" / "model" / "records.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(source)
    found = [t for _, t in imports(probe, "funnel.model.records") if layer_of(t) == "engine"]
    assert found == ["funnel.engine.funnel"]
