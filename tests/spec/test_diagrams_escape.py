"""Graphviz labels are literal text, whatever a name holds (review 15)."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from typing import ClassVar

import pytest
from statemachine import State

from funnel import Funnel
from funnel.exceptions import DiagramError
from funnel.spec import diagrams
from funnel.spec.diagrams import dot_graph, dot_text, html, svg
from funnel.spec.machine import FunnelStateMachine, SalesFunnel

pytest.importorskip("pydot")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")

HOSTILE = ["<b>bold</b>", "ends with \\", 'say "hi"', "a\\nb", "tab\there", "x;y {z}"]


def _funnel(stage_name: str) -> Funnel:
    class Hostile(FunnelStateMachine):
        new = State(stage_name, initial=True)
        done = State("Done", final=True)
        go = new.to(done)
        levels: ClassVar[dict[str, str]] = {"new": "lead", "done": "lead"}

    return Funnel(machine=Hostile, name=stage_name, version="1")


@pytest.mark.parametrize("name", HOSTILE)
def test_labels_are_quoted_strings(name: str) -> None:
    graph = dot_graph(_funnel(name))
    assert "label=<" not in graph.to_string()  # never an HTML-like label
    [node] = [n for n in graph.get_subgraphs()[0].get_nodes() if n.get_name() == "new"]
    assert node.get_label() == dot_text(name)
    assert graph.get_label() == dot_text(f"{name} v1")


@pytest.mark.parametrize(
    ("lines", "quoted"),
    [
        (["<b>bold</b>"], '"<b>bold</b>"'),
        (["ends with \\"], '"ends with \\\\"'),
        (['say "hi"'], '"say \\"hi\\""'),
        (["go", "[has_reason]"], '"go\\n[has_reason]"'),
        (["a\nb\x1b"], '"a b "'),
    ],
)
def test_dot_text_escapes(lines: list[str], quoted: str) -> None:
    assert dot_text(*lines) == quoted


@needs_dot
@pytest.mark.parametrize("name", HOSTILE)
def test_svg_of_hostile_names_shows_them_as_text(name: str) -> None:
    drawn = svg(_funnel(name))
    texts = [el.text or "" for el in ET.fromstring(drawn).iter() if el.tag.endswith("text")]
    expected = name.replace("\t", " ")
    assert any(expected in t or t in expected for t in texts if t.strip())
    assert expected in " ".join(texts) or expected.split()[0] in " ".join(texts)


def test_stage_values_that_are_not_identifiers_get_node_ids() -> None:
    class Odd(FunnelStateMachine):
        new = State("New", initial=True, value="a:b")
        done = State("Done", final=True, value="<done>")
        go = new.to(done)
        levels: ClassVar[dict[str, str]] = {"a:b": "lead", "<done>": "lead"}

    source = dot_graph(Funnel(machine=Odd, name="odd")).to_string()
    assert "stage_0" in source
    assert "stage_1" in source
    assert "<done>" not in source.replace('"<done>"', "")


def test_a_failing_dot_prints_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """svg() raises DiagramError and html() falls back to mermaid, both silently."""
    false = shutil.which("false")
    if false is None:
        pytest.skip("no false program")
    monkeypatch.setattr(diagrams, "find_dot", lambda: false)
    funnel = Funnel(machine=SalesFunnel, name="sources")
    with pytest.raises(DiagramError):
        svg(funnel)
    page = html(funnel)
    assert 'class="mermaid"' in page
    assert funnel._repr_html_() is not None
    captured = capsys.readouterr()
    assert captured.out == ""
