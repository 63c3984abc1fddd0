"""
Doubts about a valid definition: what loads, but is probably not what was meant.

A definition with a problem is refused (:mod:`funnel.io.definition.read`); one that
loads can still hold something doubtful. :func:`doubts` lists those as
:class:`~funnel.exceptions.DefinitionWarning`, and :func:`funnel.load_funnel` and
:func:`~funnel.io.definition.loads_funnel` issue each one with :func:`warnings.warn`:

* ``final-without-outcome`` – a final stage with no ``outcome`` where other final stages
  have one: reports count the records that end there neither won nor lost;
* ``nothing-to-win`` – a funnel with prospect stages whose final stages have outcomes,
  none ``"won"``: every win rate is zero;
* ``unused-criterion`` – a ``[criteria.<key>]`` that neither the framework nor the
  profile uses (a typo in ``qualification.criteria``?).

Turn them into errors with ``warnings.simplefilter("error", funnel.FunnelWarning)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from funnel.exceptions import DefinitionWarning
from funnel.io.definition.build import Funnel
from funnel.io.definition.locate import Format, KeyPath, Locator, dotted

__all__ = ["doubts"]


def doubts(
    funnel: Funnel,
    data: Mapping[str, Any],
    *,
    text: str | None = None,
    format: Format = "toml",
    source: str | None = None,
) -> list[DefinitionWarning]:
    """
    The doubtful things in the definition *data* that *funnel* was built from.

    >>> from funnel.io.definition import default_definition_path, load_funnel
    >>> from funnel.io.definition.read import parse
    >>> path = default_definition_path()
    >>> doubts(load_funnel(path), parse(path.read_text()))
    []
    """
    locator = Locator(text, format)
    found: list[DefinitionWarning] = []

    def doubt(kind: str, message: str, path: KeyPath) -> None:
        found.append(
            DefinitionWarning(
                kind, message, key=dotted(path), line=locator.line(path), source=source
            )
        )

    table = funnel.table
    outcomes = funnel.won_stages | funnel.lost_stages
    # A definition that gives no stage an outcome does not use outcomes (a sketch, a
    # funnel that reports stages only); one that gives some but not all forgot one.
    if outcomes:
        for stage in table.stages:
            if stage in table.finals and stage not in outcomes:
                doubt(
                    "final-without-outcome",
                    f"final stage {stage!r} has no outcome, though other final stages have "
                    "one: reports count the records that end there neither won nor lost",
                    ("stages", stage),
                )
        if funnel.prospect_stages and not funnel.won_stages:
            doubt(
                "nothing-to-win",
                "the funnel has prospect stages and final stages with outcomes, but none "
                "is 'won': every win rate of this funnel is zero",
                ("stages",),
            )
    declared = data.get("criteria")
    if isinstance(declared, Mapping):
        used = {c.key for c in funnel.framework.criteria}
        if funnel.icp is not None:
            used.add(funnel.icp.criterion)
        for key in declared:
            if key not in used:
                doubt(
                    "unused-criterion",
                    f"criterion {key!r} is declared but neither the framework "
                    f"{funnel.framework.name!r} nor the profile uses it",
                    ("criteria", key),
                )
    return found
