"""Sphinx configuration for funnel's documentation."""

from __future__ import annotations

import funnel

project = "funnel"
author = "funnel developers"
copyright = "2026, funnel developers"
release = funnel.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_fence_as_directive = ["mermaid"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "furo"
html_title = "funnel"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
nitpicky = False
suppress_warnings = ["myst.xref_missing"]


_MACHINE_INTERNALS = {
    "states",
    "states_map",
    "final_states",
    "initial_state",
    "events",
    "levels",
    "outcomes",
    "qualification_levels",
}


def _skip_machine_internals(app, what, name, obj, skip, options):  # noqa: ANN001, ANN201
    """Leave python-statemachine's own members (states, events, maps) out of the reference."""
    module = type(obj).__module__ or ""
    if what == "class" and (module.startswith("statemachine") or name in _MACHINE_INTERNALS):
        return True
    return None


def setup(app):  # noqa: ANN001, ANN201
    app.connect("autodoc-skip-member", _skip_machine_internals)
