"""Sphinx configuration for funnel's documentation."""

from __future__ import annotations

import inspect
import os
import shutil
import textwrap
from pathlib import Path

import funnel

project = "funnel"
author = "funnel developers"
copyright = "2026, funnel developers"
release = funnel.__version__
version = release

extensions = [
    "myst_nb",  # MyST markdown and notebooks, executed at build time
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_fence_as_directive = ["mermaid"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
html_theme = "furo"
html_title = "funnel"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_theme_options = {"source_repository": "https://github.com/salesfunnel/salesfunnel/"}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
autosummary_generate = False
napoleon_google_docstring = True
nitpicky = False
suppress_warnings = ["myst.xref_missing"]

# -- notebooks ---------------------------------------------------------------------------------
# The notebooks (docs/notebooks/*.ipynb, and the gallery, a MyST text notebook) run at every
# build; jupyter-cache keeps their outputs in the build directory until their code changes.
nb_execution_mode = "cache"
nb_execution_timeout = 300
nb_execution_raise_on_error = True  # a cell that fails fails the build
nb_execution_show_tb = True
nb_merge_streams = True

#: Run in each notebook kernel before its first cell: plotly figures become a <div> and a
#: Plotly.newPlot call (no require.js, no MathJax from a CDN); the page loads plotly.js once,
#: from _static (see _plotly_on_pages_with_figures).
_KERNEL_STARTUP = textwrap.dedent(
    """
    try:
        import plotly.io as _pio
        from plotly.io.base_renderers import MimetypeRenderer as _Base
    except ImportError:
        pass
    else:
        class _SiteRenderer(_Base):
            def to_mimebundle(self, fig_dict):
                html = _pio.to_html(fig_dict, include_plotlyjs=False, include_mathjax=False,
                                    full_html=False, default_width="100%",
                                    config={"responsive": True, "displaylogo": False})
                return {"text/html": html}

        _pio.renderers["funnel_site"] = _SiteRenderer()
        _pio.renderers.default = "funnel_site"
    """
)

_PLOTLY_JS = "plotly.min.js"


def _kernel_startup(app) -> None:  # noqa: ANN001
    """An IPython profile whose startup file sets the site's plotly renderer, for the kernels."""
    profile = Path(app.doctreedir) / "ipython"
    startup = profile / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-funnel-site.py").write_text(_KERNEL_STARTUP, encoding="utf-8")
    os.environ["IPYTHONDIR"] = str(profile)
    os.environ.pop("PLOTLY_RENDERER", None)


def _plotly_on_pages_with_figures(app, pagename, templatename, context, doctree) -> None:  # noqa: ANN001
    """plotly.js in the <head> of pages with figures: the theme loads its scripts after them."""
    if "plotly-graph-div" in context.get("body", ""):
        src = context["pathto"](f"_static/{_PLOTLY_JS}", 1)
        context["metatags"] = context.get("metatags", "") + f'<script src="{src}"></script>\n'



def _copy_plotly(app, exception) -> None:  # noqa: ANN001
    if exception is not None or app.builder.format != "html":
        return
    import plotly

    source = Path(plotly.__file__).parent / "package_data" / _PLOTLY_JS
    shutil.copyfile(source, Path(app.outdir) / "_static" / _PLOTLY_JS)


# -- API reference -----------------------------------------------------------------------------


def _public(module: object) -> list[str]:
    """The names autodoc documents for *module*: its ``__all__``, else what it defines."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    name = getattr(module, "__name__", "")
    return [
        key
        for key, value in vars(module).items()
        if not key.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == name
        and inspect.getdoc(value)
    ]


def _module_summary(app, what, name, obj, options, lines) -> None:  # noqa: ANN001
    """After each module's docstring, a summary table of the members documented below it."""
    if what != "module":
        return
    members = options.get("members")
    if not members:
        return
    every = not isinstance(members, (list, tuple))  # autodoc's ALL: every public member
    names = _public(obj) if every else [str(m) for m in members]
    if not names:
        return
    lines += ["", ".. rubric:: Summary", "", ".. autosummary::", "   :nosignatures:", ""]
    lines += [f"   {member}" for member in names]  # names relative to the module
    lines.append("")


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
    app.connect("builder-inited", _kernel_startup)
    app.connect("html-page-context", _plotly_on_pages_with_figures)
    app.connect("build-finished", _copy_plotly)
    app.connect("autodoc-process-docstring", _module_summary)
