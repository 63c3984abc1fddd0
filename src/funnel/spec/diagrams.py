"""
Diagrams of a funnel: mermaid text (no dependency) and SVG (pydot + Graphviz).

Both are drawn from the machine class, the single source of truth, through
its derived :class:`~funnel.spec.table.TransitionTable`. Stages are grouped by
level (lead, prospect); edges carry the event and its guards
(``convert [is_two_way, is_qualified]``; an ``unless`` guard shows as
``not name``).

* :func:`mermaid` returns a ``stateDiagram-v2`` that GitHub, GitLab and
  JupyterLab (4.1+) render; it needs nothing installed.
* :func:`svg` needs the ``diagrams`` extra (``pip install 'salesfunnel[diagrams]'``,
  which installs pydot) and the Graphviz ``dot`` program (e.g.
  ``apt-get install graphviz``); without them it raises
  :class:`~funnel.exceptions.DiagramError` saying what to install.
* :func:`try_svg` and :func:`html` back the notebook reprs of
  :class:`~funnel.Funnel`: they never raise, and fall back to mermaid.

pydot is imported only inside :func:`dot_graph`, so ``import funnel`` does not
import it.
"""

from __future__ import annotations

import html as _html
import shutil
from typing import TYPE_CHECKING, Any

from funnel.exceptions import DiagramError
from funnel.spec.table import Edge

if TYPE_CHECKING:
    from funnel.spec.definition import FunnelDefinition as Funnel

#: What to run when SVG cannot be drawn.
INSTALL_HINT = (
    "install the diagrams extra (pip install 'salesfunnel[diagrams]') and Graphviz "
    "(e.g. apt-get install graphviz, brew install graphviz)"
)

_LEVEL_NAMES = {"lead": "Lead (top of funnel)", "prospect": "Prospect"}


def guard_label(edge: Edge) -> str:
    """
    The guards of *edge* as text, e.g. ``"is_two_way, not has_reason"``.

    >>> guard_label(Edge("a", "go", "b", (("is_two_way", True), ("has_reason", False))))
    'is_two_way, not has_reason'
    """
    return ", ".join(name if expected else f"not {name}" for name, expected in edge.guards)


def edge_label(edge: Edge) -> str:
    """The event of *edge* with its guards in brackets, e.g. ``"lose [has_reason]"``."""
    guards = guard_label(edge)
    return f"{edge.event} [{guards}]" if guards else edge.event


def _group_id(level: str, taken: set[str]) -> str:
    candidate = f"{level}_level"
    while candidate in taken:
        candidate += "_"
    return candidate


#: Characters a label must not carry raw into mermaid or the markdown around it: quotes
#: end the label, angle brackets become HTML, a backtick can close a code fence.
_MERMAID_CODES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;", "&": "#amp;"}


def _mermaid_text(text: str) -> str:
    """
    *text* safe inside a mermaid label: one line, with mermaid's entity codes for markup.

    >>> _mermaid_text('Won <b>"big"</b> ```')
    'Won #lt;b#gt;#quot;big#quot;#lt;/b#gt; #96;#96;#96;'
    """
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return "".join(_MERMAID_CODES.get(c, c) for c in flat)


def mermaid(funnel: Funnel) -> str:
    """
    The funnel as a mermaid ``stateDiagram-v2``, stages grouped by level.

    >>> print("\\n".join(mermaid(funnel.DEFAULT_FUNNEL).splitlines()[:4]))
    stateDiagram-v2
        direction LR
        state "Lead (top of funnel)" as lead_level {
            state "Acquired" as acquired
    """
    table = funnel.table
    taken = set(table.stages)
    lines = ["stateDiagram-v2", "    direction LR"]
    for level in ("lead", "prospect"):
        stages = [s for s in table.stages if funnel.machine.levels.get(s) == level]
        if not stages:
            continue
        group = _group_id(level, taken)
        taken.add(group)
        lines.append(f'    state "{_LEVEL_NAMES[level]}" as {group} {{')
        lines.extend(f'        state "{_mermaid_text(table.names[s])}" as {s}' for s in stages)
        lines.append("    }")
    lines.append(f"    [*] --> {table.initial}")
    for edge in table.edges:
        lines.append(f"    {edge.source} --> {edge.target} : {_mermaid_text(edge_label(edge))}")
    for stage in table.stages:
        if stage in table.finals:
            outcome = funnel.machine.outcomes.get(stage)
            lines.append(f"    {stage} --> [*]" + (f" : {outcome}" if outcome else ""))
    return "\n".join(lines)


def find_dot() -> str | None:
    """The path of Graphviz's ``dot`` program on ``PATH``, or ``None``."""
    return shutil.which("dot")


def _pydot() -> Any:
    try:
        import pydot
    except ImportError as exc:
        raise DiagramError(
            f"SVG diagrams need pydot, which is not installed: {INSTALL_HINT}"
        ) from exc
    return pydot


_OUTCOME_COLOURS = {"won": "#c8e6c9", "lost": "#ffcdd2"}
_LEVEL_COLOURS = {"lead": "#e3f2fd", "prospect": "#fff3e0"}


def dot_graph(funnel: Funnel) -> Any:
    """
    The funnel as a ``pydot.Dot`` graph (needs pydot, not Graphviz).

    Raises:
        DiagramError: pydot is not installed.
    """
    pydot = _pydot()
    table = funnel.table
    levels = funnel.machine.levels
    graph = pydot.Dot(
        graph_name="funnel",
        graph_type="digraph",
        rankdir="LR",
        label=f"{funnel.name} v{funnel.version}",
        labelloc="t",
        fontname="Helvetica",
    )
    graph.set_node_defaults(shape="box", style="rounded,filled", fontname="Helvetica")
    graph.set_edge_defaults(fontname="Helvetica", fontsize="10")
    graph.add_node(pydot.Node("__start__", shape="point", width="0.15", label=""))
    for level in ("lead", "prospect"):
        stages = [s for s in table.stages if levels.get(s) == level]
        if not stages:
            continue
        cluster = pydot.Cluster(
            f"level_{level}",
            label=_LEVEL_NAMES[level],
            style="filled",
            fillcolor=_LEVEL_COLOURS[level],
            color="#90a4ae",
        )
        for stage in stages:
            outcome = funnel.machine.outcomes.get(stage, "")
            cluster.add_node(
                pydot.Node(
                    stage,
                    label=table.names[stage],
                    fillcolor=_OUTCOME_COLOURS.get(outcome, "white"),
                    peripheries="2" if stage in table.finals else "1",
                )
            )
        graph.add_subgraph(cluster)
    graph.add_edge(pydot.Edge("__start__", table.initial))
    for edge in table.edges:
        graph.add_edge(pydot.Edge(edge.source, edge.target, label=edge_label(edge)))
    return graph


def svg(funnel: Funnel) -> str:
    """
    The funnel as SVG text, drawn by Graphviz ``dot``.

    Raises:
        DiagramError: pydot or ``dot`` is missing, or ``dot`` failed; the
            message says what to install.
    """
    graph = dot_graph(funnel)
    dot = find_dot()
    if dot is None:
        raise DiagramError(f"SVG diagrams need Graphviz's 'dot' program on PATH: {INSTALL_HINT}")
    try:
        data = graph.create(prog=dot, format="svg")
    except (OSError, AssertionError) as exc:
        raise DiagramError(f"Graphviz 'dot' failed to draw the funnel: {exc}") from exc
    return data.decode("utf-8") if isinstance(data, bytes) else str(data)


def try_svg(funnel: Funnel) -> str | None:
    """The SVG of :func:`svg`, or ``None`` when it cannot be drawn here (never raises)."""
    try:
        return svg(funnel)
    except DiagramError:
        return None


def html(funnel: Funnel) -> str:
    """
    HTML for notebooks: the SVG if it can be drawn, else the mermaid text.

    The mermaid fallback is a ``<pre class="mermaid">`` block, which pages
    loading mermaid.js render and everything else shows as text.
    """
    image = try_svg(funnel)
    title = _html.escape(f"{funnel.name} v{funnel.version}")
    if image is not None:
        start = image.find("<svg")  # drop the XML declaration and DOCTYPE inside HTML
        return f'<div class="funnel-diagram" title="{title}">{image[max(start, 0) :]}</div>'
    return (
        f'<div class="funnel-diagram" title="{title}">'
        f'<pre class="mermaid">{_html.escape(mermaid(funnel))}</pre></div>'
    )
