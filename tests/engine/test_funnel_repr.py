"""Funnel's repr: one short line (repr(DEFAULT_FUNNEL) was 1.4 KB, found in review)."""

from __future__ import annotations

import attrs

from funnel import DEFAULT_FUNNEL


def test_the_default_funnel_s_repr_is_one_short_line() -> None:
    shown = repr(DEFAULT_FUNNEL)
    assert shown == "<Funnel 'sources' v1: 10 stages, 10 events, framework 'default'>"
    assert len(shown) < 200
    assert len(DEFAULT_FUNNEL.table.stages) == 10  # the counts are the funnel's own


def test_a_long_or_odd_name_keeps_the_repr_short_and_on_one_line() -> None:
    long = attrs.evolve(DEFAULT_FUNNEL, name="x" * 500, version="2" * 300)
    assert len(repr(long)) < 200
    assert repr(long).startswith("<Funnel 'xxx")
    odd = attrs.evolve(DEFAULT_FUNNEL, name="acme\n\x1b[31m", version="2\n\x1b")
    assert "\n" not in repr(odd)
    assert "\x1b" not in repr(odd)


def test_the_whole_definition_is_still_shown_elsewhere() -> None:
    assert "stateDiagram-v2" in DEFAULT_FUNNEL.mermaid()
    assert "mark_mql" in DEFAULT_FUNNEL._repr_markdown_()
    assert DEFAULT_FUNNEL.framework.name == "default"


def test_a_funnel_copies_as_itself_and_refuses_to_pickle() -> None:
    """pickle.dumps(DEFAULT_FUNNEL) raised "cannot pickle 'mappingproxy'" (review)."""
    import copy
    import pickle

    import pytest

    from funnel import DEFAULT_FUNNEL, ValidationError, dump_funnel, loads_funnel

    assert copy.copy(DEFAULT_FUNNEL) is DEFAULT_FUNNEL
    assert copy.deepcopy({"f": DEFAULT_FUNNEL})["f"] is DEFAULT_FUNNEL
    with pytest.raises(ValidationError, match="send its definition"):
        pickle.dumps(DEFAULT_FUNNEL)
    text = dump_funnel(DEFAULT_FUNNEL)
    assert loads_funnel(text, guards=DEFAULT_FUNNEL.guards).table == DEFAULT_FUNNEL.table
