"""
Funnel definition files: a company's funnel as data (TOML or JSON).

A definition file names the stages and their level (lead or prospect), the
events between them with their guards, the qualification framework and its
pass rule, the ideal customer profile, the MQL/SQL score thresholds and the
communication rules. Loading one executes no code: the file is read with
:mod:`tomllib` or :mod:`json`, checked, and turned into a
:class:`~funnel.spec.machine.FunnelStateMachine` subclass built on the fly, so the
python-statemachine class stays the single source of truth. Every key is
documented in ``docs/reference/definition-file.md``.

* :func:`load_funnel` / :func:`loads_funnel` read a definition; every problem
  found is raised at once as a :class:`~funnel.exceptions.DefinitionError`
  whose problems carry the key and, where it can be found, the line.
* :func:`dump_funnel` / :func:`save_funnel` write one back; file -> funnel ->
  file -> funnel gives an equal funnel, and saving over a TOML file keeps
  its comments. Writing TOML needs the ``toml`` extra (tomlkit).
* :func:`default_definition_path` is the shipped file of the sources' funnel;
  loading it gives a funnel equal to :data:`~funnel.DEFAULT_FUNNEL`.

The work is split as in python-statemachine's ``io`` package:
:mod:`~funnel.io.definition.locate` finds the line of a key,
:mod:`~funnel.io.definition.read` parses and checks,
:mod:`~funnel.io.definition.build` builds the machine and the funnel,
:mod:`~funnel.io.definition.write` writes. ``funnel check`` and
``funnel diagram`` live in :mod:`funnel.cli.definition`.

>>> f = load_funnel(default_definition_path())
>>> f == funnel.DEFAULT_FUNNEL, f.version
(True, '1')
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from funnel._base import log as _log
from funnel._base.fields import check_text
from funnel.exceptions import LoadError, ValidationError
from funnel.io.definition.build import Funnel, funnel_from_data
from funnel.io.definition.doubts import doubts
from funnel.io.definition.locate import Format, check_format, check_path, format_of
from funnel.io.definition.read import parse
from funnel.io.definition.write import dump_funnel, save_funnel
from funnel.spec.guards import GUARDS, GuardRegistry

__all__ = [
    "Format",
    "default_definition_path",
    "dump_funnel",
    "load_funnel",
    "loads_funnel",
    "save_funnel",
]

#: Each definition loaded is logged here at INFO: its source, name, version and counts.
LOG = _log.get_logger(__name__)


def default_definition_path() -> Path:
    """The shipped definition file of the sources' funnel (``default_funnel.toml``)."""
    return Path(__file__).parent.parent.parent / "data" / "default_funnel.toml"


def loads_funnel(
    text: str,
    *,
    format: Format = "toml",
    source: str | None = None,
    guards: GuardRegistry = GUARDS,
) -> Funnel:
    """
    Read a funnel definition from *text*.

    Args:
        text: The definition.
        format: ``"toml"`` or ``"json"``.
        source: Where it came from, for error messages (e.g. a file name).
        guards: The registry the definition's guard names are looked up in, which
            the funnel then uses (default: :data:`funnel.spec.guards.GUARDS`). A
            funnel made with its own registry loads back with that registry.

    Raises:
        DefinitionError: the text does not parse, or the definition is invalid.
        ValidationError: *format* is neither ``"toml"`` nor ``"json"``.

    Warns:
        DefinitionWarning: for each doubtful thing in a definition that loads (see
            :mod:`funnel.io.definition.doubts`).
    """
    return _loads(text, format, source, guards, stacklevel=3)


def _loads(
    text: str, format: Format, source: str | None, guards: GuardRegistry, *, stacklevel: int
) -> Funnel:
    if not isinstance(text, str):
        raise ValidationError(
            f"loads_funnel() takes the definition as a str, got {type(text).__name__}",
            field="text",
        )
    check_format(format)
    check_text(source, record=None, field="source", optional=True)
    if not isinstance(guards, GuardRegistry):
        raise ValidationError(
            f"guards must be a GuardRegistry, got {type(guards).__name__}", field="guards"
        )
    data = parse(text, format, source)
    funnel = funnel_from_data(data, source=source, text=text, format=format, guards=guards)
    found = doubts(funnel, data, text=text, format=format, source=source)
    if LOG.isEnabledFor(logging.INFO):
        LOG.info(
            "loaded funnel %r v%s from %s: %d stages, %d events, %d transitions, %d warning(s)",
            funnel.name,
            funnel.version,
            source or f"{format} text",
            len(funnel.table.stages),
            len(funnel.table.events),
            len(funnel.table.edges),
            len(found),
            extra={
                "funnel_source": source,
                "funnel_name": funnel.name,
                "funnel_version": funnel.version,
                "funnel_stages": len(funnel.table.stages),
                "funnel_events": len(funnel.table.events),
                "funnel_warnings": [w.kind for w in found],
            },
        )
    for warning in found:
        warnings.warn(warning, stacklevel=stacklevel)
    return funnel


def load_funnel(
    path: str | Path, *, format: Format | None = None, guards: GuardRegistry = GUARDS
) -> Funnel:
    """
    Read a funnel definition file (TOML, or JSON for ``*.json``).

    *guards* is the registry its guard names are looked up in (see :func:`loads_funnel`).

    Raises:
        DefinitionError: the file does not parse or the definition is invalid;
            ``source`` is the path and each problem names its key and line.
        LoadError: the file cannot be read.

    Warns:
        DefinitionWarning: for each doubtful thing in a definition that loads.
    """
    check_path(path, "load_funnel()")
    if format is not None:
        check_format(format)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"cannot read funnel definition {str(path)!r}: not UTF-8 text "
            f"(byte {exc.start} cannot be decoded)"
        ) from None
    except OSError as exc:
        raise LoadError(
            f"cannot read funnel definition {str(path)!r}: {exc.strerror or type(exc).__name__}"
        ) from exc
    fmt = format or format_of(path)
    check_format(fmt)
    return _loads(text, fmt, str(path), guards, stacklevel=3)
