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
  :class:`~funnel.Funnel`: they never raise, and fall back to mermaid drawn
  in the browser by mermaid.js.

Both read top to bottom, lead stages above prospect stages. The SVG merges
edges (:func:`merged_edges`): an event that reaches one stage from several
(``disqualify`` from every lead stage) is drawn once, from a junction its
sources meet at, so a funnel of ten stages stays legible at 800 px wide.

pydot is imported only inside :func:`dot_graph`, so ``import funnel`` does not
import it.
"""

from __future__ import annotations

import contextlib
import html as _html
import io
import re
import shutil
import uuid
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
        direction TB
        state "Lead (top of funnel)" as lead_level {
            state "Acquired" as acquired
    """
    table = funnel.table
    taken = set(table.stages)
    lines = ["stateDiagram-v2", "    direction TB"]
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


def _missing(message: str) -> DiagramError:
    """A DiagramError that IPython and Jupyter show as one line, not a traceback."""
    error = DiagramError(message)
    error._render_traceback_ = lambda: [f"DiagramError: {message}"]  # type: ignore[attr-defined]
    return error


def _pydot() -> Any:
    try:
        import pydot
    except ImportError:
        raise _missing(
            f"SVG diagrams need pydot, which is not installed: {INSTALL_HINT}"
        ) from None
    return pydot


_OUTCOME_COLOURS = {"won": "#c8e6c9", "lost": "#ffcdd2"}
_LEVEL_COLOURS = {"lead": "#e3f2fd", "prospect": "#fff3e0"}


def dot_text(*lines: str) -> str:
    """
    *lines* as one quoted DOT string, shown as the literal text, one line each.

    Quotes and backslashes are escaped and control characters become spaces, so a
    name never ends the string, breaks the file, or becomes an HTML-like label.

    >>> print(dot_text('say "hi"', "a\\\\"), dot_text("<b>bold</b>"))
    "say \\"hi\\"\\na\\\\" "<b>bold</b>"
    """
    out = []
    for line in lines:
        flat = "".join(c if c.isprintable() else " " for c in line)
        out.append(flat.replace("\\", "\\\\").replace('"', '\\"'))
    return '"' + "\\n".join(out) + '"'


def _dot_lines(edge: Edge) -> list[str]:
    """The event on one line, its guards in brackets on the next (narrow labels read at 800 px)."""
    guards = guard_label(edge)
    return [edge.event, f"[{guards}]"] if guards else [edge.event]


#: A DOT identifier that needs no quoting (and has no port separator ``:``).
_DOT_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _node_ids(stages: tuple[str, ...]) -> dict[str, str]:
    """A DOT node id per stage: the stage id itself when it is a plain identifier."""
    ids: dict[str, str] = {}
    for i, stage in enumerate(stages):
        plain = _DOT_ID.fullmatch(stage) is not None and not stage.startswith("__")
        ids[stage] = stage if plain else f"stage_{i}"
    return ids


def merged_edges(funnel: Funnel) -> list[tuple[tuple[str, ...], str, tuple[Edge, ...]]]:
    """
    The funnel's edges as drawn: ``(sources, target, edges)``, in table order.

    One event with the same guards into the same target from several stages
    (``disqualify [has_reason]`` from every lead stage) is drawn once, its
    sources joined first; several events between the same stages share one
    edge, one label line each. *edges* holds one edge per event drawn.

    >>> merged = merged_edges(funnel.DEFAULT_FUNNEL)
    >>> [(sources, [edge_label(e) for e in edges]) for sources, target, edges in merged
    ...  if target == "organisation"]
    [(('acquired', 'mql', 'sql', 'nurturing'), ['convert [is_two_way, is_qualified]'])]
    """
    fan_in: dict[tuple[str, str, tuple[tuple[str, bool], ...]], list[Edge]] = {}
    for edge in funnel.table.edges:
        fan_in.setdefault((edge.event, edge.target, edge.guards), []).append(edge)
    drawn: dict[tuple[tuple[str, ...], str], list[Edge]] = {}
    for edges in fan_in.values():
        sources = tuple(e.source for e in edges)
        drawn.setdefault((sources, edges[0].target), []).append(edges[0])
    return [(sources, target, tuple(edges)) for (sources, target), edges in drawn.items()]


def _level_of(funnel: Funnel, stages: tuple[str, ...]) -> str | None:
    levels = {funnel.machine.levels.get(s) for s in stages}
    return levels.pop() if len(levels) == 1 else None


def dot_graph(funnel: Funnel) -> Any:
    """
    The funnel as a ``pydot.Dot`` graph (needs pydot, not Graphviz).

    Drawn top to bottom, lead stages in a cluster above the prospect stages;
    the edges of :func:`merged_edges`: an event reaching one stage from
    several is drawn once, from a small junction its sources join at, and
    events between the same two stages share one edge and one label.

    Raises:
        DiagramError: pydot is not installed.
    """
    pydot = _pydot()
    table = funnel.table
    levels = funnel.machine.levels
    graph = pydot.Dot(
        graph_name="funnel",
        graph_type="digraph",
        rankdir="TB",
        label=dot_text(f"{funnel.name} v{funnel.version}"),
        labelloc="t",
        fontname="Helvetica",
        fontsize="16",
        nodesep="0.35",
        ranksep="0.35",
        newrank="true",
    )
    graph.set_node_defaults(
        shape="box",
        style="rounded,filled",
        fontname="Helvetica",
        fontsize="14",
        margin="0.15,0.06",
    )
    graph.set_edge_defaults(fontname="Helvetica", fontsize="12", color="#546e7a")
    node_id = _node_ids(table.stages)
    graph.add_node(pydot.Node("__start__", shape="point", width="0.15", label=""))
    clusters: dict[str, Any] = {}
    for level in ("lead", "prospect"):
        stages = [s for s in table.stages if levels.get(s) == level]
        if not stages:
            continue
        cluster = pydot.Cluster(
            f"level_{level}",
            label=_LEVEL_NAMES[level],
            labeljust="l",
            style="filled",
            fillcolor=_LEVEL_COLOURS[level],
            color="#90a4ae",
            fontsize="14",
        )
        for stage in stages:
            outcome = funnel.machine.outcomes.get(stage, "")
            cluster.add_node(
                pydot.Node(
                    node_id[stage],
                    label=dot_text(table.names[stage]),
                    fillcolor=_OUTCOME_COLOURS.get(outcome, "white"),
                    peripheries="2" if stage in table.finals else "1",
                )
            )
        clusters[level] = cluster
        graph.add_subgraph(cluster)
    graph.add_edge(pydot.Edge("__start__", node_id[table.initial]))
    order = {stage: i for i, stage in enumerate(table.stages)}
    for number, (sources, target, edges) in enumerate(merged_edges(funnel)):
        label = dot_text(*(line for e in edges for line in _dot_lines(e)))
        if len(sources) == 1:
            back = order[target] < order[sources[0]]  # keep "down" the funnel's direction
            graph.add_edge(
                pydot.Edge(
                    node_id[sources[0]],
                    node_id[target],
                    label=label,
                    **({"constraint": "false"} if back else {}),
                )
            )
            continue
        join = f"__join_{number}__"
        node = pydot.Node(join, shape="point", width="0.08", label="", color="#546e7a")
        home = _level_of(funnel, (*sources, target))  # inside the level all of them share
        clusters.get(home or "", graph).add_node(node)
        for source in sources:
            graph.add_edge(pydot.Edge(node_id[source], join, arrowhead="none"))
        graph.add_edge(pydot.Edge(join, node_id[target], label=label))
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
        raise _missing(f"SVG diagrams need Graphviz's 'dot' program on PATH: {INSTALL_HINT}")
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):  # pydot prints dot's output when it fails
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


#: Where the notebook view loads mermaid from when Graphviz is missing (ES module build).
MERMAID_JS = "https://cdn.jsdelivr.net/npm/mermaid@11/dist/mermaid.esm.min.mjs"

_MERMAID_LOADER = """<script type="module">
const node = document.getElementById("{id}");
if (node && !node.dataset.processed) {{
  try {{
    const mermaid = window.mermaid ?? (await import("{src}")).default;
    mermaid.initialize({{ startOnLoad: false }});
    await mermaid.run({{ nodes: [node] }});
  }} catch (error) {{
    node.title = "mermaid.js could not be loaded; install Graphviz for an offline picture";
  }}
}}
</script>"""


def html(funnel: Funnel) -> str:
    """
    HTML for notebooks: the SVG if it can be drawn, else mermaid drawn in the browser.

    The SVG scales down to the width of the page. Without pydot or Graphviz
    the diagram is a ``<pre class="mermaid">`` block with a small script that
    renders it with mermaid.js (the page's own, else :data:`MERMAID_JS`);
    where no script runs or mermaid cannot be loaded it stays readable text.
    Never raises.
    """
    image = try_svg(funnel)
    title = _html.escape(f"{funnel.name} v{funnel.version}")
    if image is not None:
        start = image.find("<svg")  # drop the XML declaration and DOCTYPE inside HTML
        body = image[max(start, 0) :].replace("<svg", '<svg style="max-width:100%;height:auto"', 1)
        return f'<div class="funnel-diagram" title="{title}">{body}</div>'
    node = f"funnel-mermaid-{uuid.uuid4().hex[:12]}"
    return (
        f'<div class="funnel-diagram" title="{title}">'
        f'<pre class="mermaid" id="{node}">{_html.escape(mermaid(funnel))}</pre>'
        f"{_MERMAID_LOADER.format(id=node, src=MERMAID_JS)}</div>"
    )
