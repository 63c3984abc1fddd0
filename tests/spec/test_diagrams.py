"""Diagrams: mermaid text without dependencies, SVG through pydot and Graphviz dot."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from funnel import DEFAULT_FUNNEL
from funnel.exceptions import DiagramError
from funnel.io.definition import loads_funnel
from funnel.spec.diagrams import (
    dot_graph,
    edge_label,
    html,
    merged_edges,
    mermaid,
    svg,
    try_svg,
)
from tests.helpers import ACME

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")


def test_mermaid_shows_every_stage_edge_and_guard() -> None:
    text = mermaid(DEFAULT_FUNNEL)
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    for stage in DEFAULT_FUNNEL.stages:
        assert f'state "{DEFAULT_FUNNEL.stage_name(stage)}" as {stage}' in text
    edge_lines = [line.strip() for line in lines if " : " in line and "[*]" not in line]
    assert len(edge_lines) == len(DEFAULT_FUNNEL.table.edges)
    for edge in DEFAULT_FUNNEL.table.edges:
        assert f"{edge.source} --> {edge.target} : {edge_label(edge)}" in edge_lines
    assert "acquired --> organisation : convert [is_two_way, is_qualified]" in edge_lines
    assert "    [*] --> acquired" in lines
    assert "    won --> [*] : won" in lines


def test_mermaid_groups_stages_by_level() -> None:
    lines = mermaid(DEFAULT_FUNNEL).splitlines()
    lead_open = lines.index('    state "Lead (top of funnel)" as lead_level {')
    prospect_open = lines.index('    state "Prospect" as prospect_level {')
    lead_block = lines[lead_open + 1 : lines.index("    }", lead_open)]
    prospect_block = lines[prospect_open + 1 : lines.index("    }", prospect_open)]
    assert [line.split(" as ")[1] for line in lead_block] == list(DEFAULT_FUNNEL.lead_stages)
    assert [line.split(" as ")[1] for line in prospect_block] == list(
        DEFAULT_FUNNEL.prospect_stages
    )


def test_mermaid_of_a_loaded_company_funnel() -> None:
    acme = loads_funnel(ACME)
    text = acme.mermaid()
    assert 'state "Sales ready" as ready' in text
    assert "discovery --> lost : lose [has_reason]" in text
    assert acme._repr_markdown_().startswith("**acme** v2\n\n```mermaid\nstateDiagram-v2")


def test_unless_guards_are_labelled() -> None:
    text = ACME.replace(
        '[events.sign]\nfrom = "proposal"\nto = "customer"',
        '[events.sign]\nfrom = "proposal"\nto = "customer"\nunless = ["has_reason"]',
    )
    assert "proposal --> customer : sign [not has_reason]" in mermaid(loads_funnel(text))


def test_dot_graph_has_clusters_nodes_and_edges() -> None:
    graph = dot_graph(DEFAULT_FUNNEL)
    clusters = {g.get_name() for g in graph.get_subgraphs()}
    assert clusters == {"cluster_level_lead", "cluster_level_prospect"}
    assert graph.get_rankdir() == "TB"  # top to bottom: leads above prospects


def _drawn(graph: Any) -> set[tuple[str, str]]:
    """Every (source, target) the drawing connects, junctions followed through."""
    edges = list(graph.get_edges())
    for sub in graph.get_subgraphs():
        edges += sub.get_edges()
    into: dict[str, list[str]] = {}
    out: dict[str, list[str]] = {}
    for e in edges:
        out.setdefault(e.get_source(), []).append(e.get_destination())
        into.setdefault(e.get_destination(), []).append(e.get_source())
    pairs = set()
    for source, targets in out.items():
        if source.startswith("__"):
            continue
        for target in targets:
            for final in out.get(target, []) if target.startswith("__join") else [target]:
                pairs.add((source, final))
    return pairs


def test_every_transition_is_drawn_once_and_nothing_else() -> None:
    """Merging keeps every transition: following junctions gives back the table's edges."""
    for funnel in (DEFAULT_FUNNEL, loads_funnel(ACME)):
        graph = dot_graph(funnel)
        expected = {(e.source, e.target) for e in funnel.table.edges}
        assert _drawn(graph) == expected


def test_fan_in_edges_are_merged_with_one_label() -> None:
    """disqualify [has_reason] from four lead stages: one labelled edge, not four."""
    graph = dot_graph(DEFAULT_FUNNEL)
    text = graph.to_string()
    assert text.count("disqualify\\n[has_reason]") == 1
    assert text.count("convert\\n[is_two_way, is_qualified]") == 1
    labelled = [e for e in graph.get_edges() if e.get_label()]
    # 23 transitions in the table, drawn as 10 labelled edges
    assert len(DEFAULT_FUNNEL.table.edges) == 23
    assert len(labelled) == len(merged_edges(DEFAULT_FUNNEL)) == 10


def test_parallel_events_between_two_stages_share_one_edge() -> None:
    text = ACME.replace(
        '[events.sign]\nfrom = "proposal"\nto = "customer"',
        '[events.sign]\nfrom = "proposal"\nto = "customer"\n\n'
        '[events.sign_online]\nfrom = "proposal"\nto = "customer"',
    )
    funnel = loads_funnel(text)
    assert [e.event for e in funnel.table.edges if e.source == "proposal"].count("sign") == 1
    merged = [m for m in merged_edges(funnel) if m[0] == ("proposal",) and m[1] == "customer"]
    assert len(merged) == 1
    assert [e.event for e in merged[0][2]] == ["sign", "sign_online"]
    to_customer = [e for e in dot_graph(funnel).get_edges() if e.get_destination() == "customer"]
    assert len(to_customer) == 1
    assert to_customer[0].get_label() == '"sign\\nsign_online"'  # a quoted DOT string


@needs_dot
def test_svg_is_well_formed_and_names_every_stage() -> None:
    image = svg(DEFAULT_FUNNEL)
    root = ET.fromstring(image)
    assert root.tag.endswith("svg")
    for stage in DEFAULT_FUNNEL.stages:
        assert f">{DEFAULT_FUNNEL.stage_name(stage)}<" in image
    assert DEFAULT_FUNNEL._repr_svg_() == image
    assert html(DEFAULT_FUNNEL).startswith(
        '<div class="funnel-diagram" title="sources v1"><svg style="max-width:100%;height:auto"'
    )


def test_missing_dot_raises_with_hint_and_reprs_fall_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(DiagramError, match="apt-get install graphviz") as info:
        svg(DEFAULT_FUNNEL)
    # a notebook shows it as one line (IPython's _render_traceback_), not a traceback
    assert info.value._render_traceback_() == [f"DiagramError: {info.value}"]  # type: ignore[attr-defined]
    assert try_svg(DEFAULT_FUNNEL) is None
    assert DEFAULT_FUNNEL._repr_svg_() is None
    page = DEFAULT_FUNNEL._repr_html_()
    pre = r'<pre class="mermaid" id="funnel-mermaid-[0-9a-f]{12}">stateDiagram-v2'
    assert re.search(pre, page)
    assert '<script type="module">' in page  # mermaid.js draws it in the browser
    assert "&gt;" in page  # the arrows are escaped
    assert "```mermaid" in DEFAULT_FUNNEL._repr_markdown_()


def test_missing_pydot_in_a_fresh_interpreter() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["pydot"] = None
        import funnel
        from funnel.exceptions import DiagramError
        f = funnel.DEFAULT_FUNNEL
        assert f._repr_svg_() is None
        assert '<pre class="mermaid" id=' in f._repr_html_()
        assert f.mermaid().startswith("stateDiagram-v2")
        try:
            f.svg()
        except DiagramError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'salesfunnel[diagrams]'" in done.stdout
    assert done.stderr == ""


def test_import_funnel_does_not_import_pydot() -> None:
    script = (
        "import sys, funnel, funnel.io.definition, funnel.spec.diagrams; "
        "print('pydot' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


@needs_dot
def test_cli_writes_svg(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from funnel.cli import main
    from funnel.io.definition import default_definition_path

    out = tmp_path / "funnel.svg"
    assert (
        main(["diagram", str(default_definition_path()), "--format", "svg", "-o", str(out)]) == 0
    )
    assert ET.fromstring(out.read_text()).tag.endswith("svg")


def test_cli_svg_without_dot_fails_cleanly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from funnel.cli import main
    from funnel.io.definition import default_definition_path

    monkeypatch.setenv("PATH", "")
    assert main(["diagram", str(default_definition_path()), "--format", "svg"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Graphviz" in captured.err


def test_markup_in_names_cannot_break_out_of_the_notebook_view():
    """A funnel name with HTML and a stage name with a code fence were embedded raw."""
    from funnel import loads_funnel

    evil = loads_funnel(
        """
[funnel]
name = "<img src=x onerror=alert(1)>"
version = "1"

[stages.new]
name = "New ``` <script>alert(1)</script>"
level = "lead"
initial = true

[stages.gone]
level = "lead"
final = true
outcome = "lost"

[events.drop]
from = "new"
to = "gone"
"""
    )
    markdown = evil._repr_markdown_()
    assert "<img" not in markdown
    assert "<script" not in markdown
    assert markdown.count("```") == 2  # the mermaid fence opens and closes, nothing else
    assert "<script" not in evil.mermaid()
