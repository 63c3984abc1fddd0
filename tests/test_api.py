"""The public API is small, stable and light to import."""

from __future__ import annotations

import json
import subprocess
import sys

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


def test_core_names_exported():
    """The names the docs rely on are importable from funnel."""
    for name in (
        "Lead",
        "Prospect",
        "advance",
        "convert",
        "explain",
        "SalesFunnel",
        "BANT",
        "FunnelError",
        "DEFAULT_FUNNEL",
        "Touch",
        "Evidence",
        "IdealCustomerProfile",
    ):
        assert name in funnel.__all__


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
