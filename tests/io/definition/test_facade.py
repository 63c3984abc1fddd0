"""The funnel.io.definition facade: its names are pinned, and the top level re-exports them."""

from __future__ import annotations

from pathlib import Path

import funnel
import funnel.io.definition as definition


def test_all_is_pinned() -> None:
    assert definition.__all__ == [
        "Format",
        "default_definition_path",
        "dump_funnel",
        "load_funnel",
        "loads_funnel",
        "save_funnel",
    ]
    for name in definition.__all__:
        assert hasattr(definition, name), name


def test_top_level_names_are_the_facades() -> None:
    for name in ("dump_funnel", "load_funnel", "loads_funnel"):
        assert getattr(funnel, name) is getattr(definition, name)
    assert funnel.save_funnel is definition.save_funnel


def test_default_definition_path_is_the_shipped_file() -> None:
    path = definition.default_definition_path()
    assert path.is_file()
    assert path.parent.name == "data"
    assert path.parent.parent == Path(funnel.__file__).parent
