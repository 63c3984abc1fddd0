"""The public API is small, stable and light to import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import funnel

HEAVY = (
    "polars",
    "narwhals",
    "pandas",
    "pyarrow",
    "duckdb",
    "plotly",
    "sqlalchemy",
    "pydot",
    "dask",
    "rich",
    "numpy",
)


def test_all_is_sorted_and_complete():
    """__all__ is sorted and every name in it exists."""
    names = list(funnel.__all__)

    def isort_style(name: str) -> tuple[int, str]:
        kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return kind, name

    assert sorted(names, key=isort_style) == names
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(funnel, name), name


#: The top-level API, pinned: adding or removing a name is a decision, made here.
PUBLIC = (
    "DEFAULT_FUNNEL",
    "CommunicationRefused",
    "Company",
    "Consent",
    "Contact",
    "Criterion",
    "DefinitionError",
    "Evidence",
    "Explanation",
    "Framework",
    "Funnel",
    "FunnelError",
    "FunnelStateMachine",
    "FunnelWarning",
    "Hooks",
    "IdealCustomerProfile",
    "Lead",
    "Level",
    "LoadError",
    "PassRule",
    "PersistenceError",
    "Prospect",
    "Qualification",
    "QualificationLevel",
    "SerializationError",
    "StageChange",
    "Touch",
    "TransitionError",
    "ValidationError",
    "__version__",
    "add_evidence",
    "add_touch",
    "advance",
    "can",
    "check_touch",
    "convert",
    "dump_funnel",
    "enabled_events",
    "explain",
    "fire",
    "load_funnel",
    "loads_funnel",
    "plan_touch",
    "register_guard",
    "save_funnel",
)


def test_all_is_pinned():
    """The top level is small (records, Funnel, moving, definitions, error families)."""
    assert tuple(funnel.__all__) == PUBLIC
    assert len(PUBLIC) <= 50


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("BANT", "funnel.model.qualification"),
        ("SalesFunnel", "funnel.spec.machine"),
        ("IllegalEvent", "funnel.exceptions"),
        ("simulate", "funnel.forecasting.simulation"),
    ],
)
def test_a_moved_name_says_where_it_lives(name: str, where: str):
    """Names the top level had before 0.2.0 raise AttributeError naming their new module."""
    with pytest.raises(AttributeError, match=f"from {where} import {name}"):
        getattr(funnel, name)
    module = __import__(where, fromlist=[name])
    assert hasattr(module, name)


def test_a_replaced_function_names_its_replacement():
    with pytest.raises(AttributeError, match=r"Funnel\.advance\(\.\.\., listeners="):
        funnel.advance_with_machine  # noqa: B018


def test_import_is_light():
    """import funnel pulls in no optional heavy dependency."""
    code = (
        "import sys, json, funnel; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_errors_share_one_base():
    """Every exported exception derives from FunnelError."""
    for name in funnel.__all__:
        obj = getattr(funnel, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning):
            assert issubclass(obj, funnel.FunnelError), name


def test_py_typed_shipped():
    """The package marks itself as typed."""
    from importlib.resources import files

    assert files("funnel").joinpath("py.typed").is_file()
