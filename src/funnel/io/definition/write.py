"""
Writing a definition: :func:`funnel_to_data`, then TOML (tomlkit) or JSON text.

:func:`dump_funnel` writes a funnel as a new definition's text, and
:func:`save_funnel` to a file. TOML is written with `tomlkit
<https://tomlkit.readthedocs.io>`_ (the ``toml`` extra: ``pip install
"salesfunnel[toml]"``); reading TOML needs only :mod:`tomllib`, and JSON
needs nothing. Saving over an existing TOML file updates that document in
place, so the file's comments, layout and key order survive; file -> funnel
-> file -> funnel gives an equal funnel.

>>> from funnel.io.definition.build import DEFAULT_FUNNEL
>>> data = funnel_to_data(DEFAULT_FUNNEL)
>>> list(data)[:3], data["funnel"]
(['funnel', 'stages', 'events'], {'name': 'sources', 'version': '1', ...})
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from funnel.exceptions import DefinitionError, FunnelError, PersistenceError, ValidationError
from funnel.io.definition.locate import Format, check_format, check_path, format_of
from funnel.model.qualification import FRAMEWORKS, Criterion
from funnel.spec.communication import CommunicationRule

if TYPE_CHECKING:
    from funnel.io.definition.build import Funnel

__all__ = ["TOML_EXTRA_HINT", "dump_funnel", "funnel_to_data", "save_funnel", "update_toml"]

#: How to install what writing TOML needs.
TOML_EXTRA_HINT = 'pip install "salesfunnel[toml]"'


def _criterion_data(c: Criterion) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name}
    if c.question:
        out["question"] = c.question
    if c.aliases:
        out["aliases"] = sorted(c.aliases)
    return out


def _rules_data(rules: Iterable[CommunicationRule]) -> list[dict[str, Any]]:
    return [{"reach": r.reach.value, "senders": sorted(r.senders)} for r in rules]


def funnel_to_data(funnel: Funnel) -> dict[str, Any]:
    """The definition of *funnel* as plain data, in the shape the files use."""
    table = funnel.table
    machine = funnel.machine
    data: dict[str, Any] = {
        "funnel": {"name": funnel.name, "version": funnel.version},
    }
    if funnel.description:
        data["funnel"]["description"] = funnel.description
    stages: dict[str, Any] = {}
    for sid in table.stages:
        spec: dict[str, Any] = {"name": table.names[sid], "level": machine.levels[sid]}
        if sid == table.initial:
            spec["initial"] = True
        if sid in table.finals:
            spec["final"] = True
        if sid in machine.outcomes:
            spec["outcome"] = machine.outcomes[sid]
        if sid in machine.qualification_levels:
            spec["qualification_level"] = machine.qualification_levels[sid]
        stages[sid] = spec
    data["stages"] = stages
    events: dict[str, Any] = {}
    for eid in table.events:
        edges = [e for e in table.edges if e.event == eid]
        shapes = {(e.target, e.guards) for e in edges}

        def guards(guard_pairs: tuple[tuple[str, bool], ...]) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            cond = [g for g, v in guard_pairs if v]
            unless = [g for g, v in guard_pairs if not v]
            if cond:
                out["guards"] = cond
            if unless:
                out["unless"] = unless
            return out

        if len(shapes) == 1:
            sources = [e.source for e in edges]
            events[eid] = {
                "from": sources[0] if len(sources) == 1 else sources,
                "to": edges[0].target,
                **guards(edges[0].guards),
            }
        else:
            events[eid] = {
                "transitions": [
                    {"from": e.source, "to": e.target, **guards(e.guards)} for e in edges
                ]
            }
    data["events"] = events
    fw = funnel.framework
    shipped = FRAMEWORKS.get(fw.name)
    qual: dict[str, Any] = {"framework": fw.name}
    if shipped is not None and shipped.criteria == fw.criteria:
        if fw.description != shipped.description:
            qual["description"] = fw.description
    else:
        qual["criteria"] = list(fw.keys)
        if fw.description:
            qual["description"] = fw.description
        data["criteria"] = {c.key: _criterion_data(c) for c in fw.criteria}
    if fw.rule.k is None:
        qual["rule"] = "all"
    else:
        qual["at_least"] = fw.rule.k
    data["qualification"] = qual
    if funnel.icp is not None:
        icp = funnel.icp
        icp_data: dict[str, Any] = {}
        if icp.industries:
            icp_data["industries"] = sorted(icp.industries)
        if icp.regions:
            icp_data["regions"] = sorted(icp.regions)
        for key in ("min_employees", "max_employees"):
            if getattr(icp, key) is not None:
                icp_data[key] = getattr(icp, key)
        if icp.min_revenue is not None:
            icp_data["min_revenue"] = str(icp.min_revenue)
        icp_data["criterion"] = icp.criterion
        data["icp"] = icp_data
    data["thresholds"] = {"mql": funnel.thresholds.mql, "sql": funnel.thresholds.sql}
    comm = funnel.communication
    comm_data: dict[str, Any] = {
        "lead": _rules_data(comm.lead),
        "prospect": _rules_data(comm.prospect),
    }
    if comm.lead_levels:
        comm_data["lead_levels"] = {k: _rules_data(v) for k, v in comm.lead_levels.items()}
    if comm.stages:
        comm_data["stages"] = {k: _rules_data(v) for k, v in comm.stages.items()}
    data["communication"] = comm_data
    return data


def _require_funnel(funnel: object) -> None:
    from funnel.io.definition.build import Funnel  # the one module that imports it

    if not isinstance(funnel, Funnel):
        raise ValidationError(
            f"expected a funnel.Funnel to write, got {type(funnel).__name__}", field="funnel"
        )


def _check_loadable(funnel: Funnel) -> None:
    """
    Refuse to write a funnel that :func:`~funnel.io.definition.loads_funnel` would refuse.

    A Python machine may use names a file may not hold (a stage value ``"closed lost"``,
    an event ``go-now``, a stage named like a guard): the written file would never load.
    """
    from funnel.io.definition.build import Thresholds
    from funnel.io.definition.read import read_data
    from funnel.spec.definition import CONVERSION_GUARDS

    default = Thresholds()
    try:
        read_data(
            funnel_to_data(funnel),
            default_thresholds={"mql": default.mql, "sql": default.sql},
            conversion_guards=CONVERSION_GUARDS,
            guards=funnel.guards,
        )
    except DefinitionError as exc:
        raise DefinitionError(
            exc.problems,
            source=f"funnel {funnel.name!r}: it cannot be written, as a file could not load it",
        ) from None


def _tomlkit() -> Any:
    try:
        import tomlkit
    except ImportError as exc:
        raise FunnelError(
            f"writing TOML definition files needs tomlkit, which is not installed: "
            f"{TOML_EXTRA_HINT}"
        ) from exc
    return tomlkit


def _comment_safe(text: str) -> str:
    """*text* on one line: every non-printable character (newlines too) escaped."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def _header(funnel: Funnel) -> str:
    return _comment_safe(
        f"Funnel definition {funnel.name!r} version {funnel.version}, written by funnel."
    )


def _value(value: Any) -> Any:
    """A tomlkit item for a value inside a table (lists and inline tables)."""
    tomlkit = _tomlkit()
    if isinstance(value, Mapping):
        inline = tomlkit.inline_table()
        for key, sub in value.items():
            inline.append(key, _value(sub))
        return inline
    if isinstance(value, list):
        array = tomlkit.array()
        for item in value:
            array.append(_value(item))
        one_line = tomlkit.dumps({"x": array})
        if any(isinstance(v, Mapping) for v in value) or len(one_line) > 76:
            array.multiline(True)
        return array
    if isinstance(value, bool | int | float | str):
        return tomlkit.item(value)
    raise ValidationError(f"cannot write {type(value).__name__} to TOML: {value!r}")


def _table(data: Mapping[str, Any]) -> Any:
    """A tomlkit table for *data*: scalars first, sub-tables as ``[a.b]`` sections."""
    tomlkit = _tomlkit()
    has_scalars = any(not isinstance(v, Mapping) for v in data.values())
    has_tables = any(isinstance(v, Mapping) for v in data.values())
    table = tomlkit.table(is_super_table=has_tables and not has_scalars)
    for key, value in data.items():
        table.append(key, _table(value) if isinstance(value, Mapping) else _value(value))
    return table


def _document(funnel: Funnel) -> Any:
    tomlkit = _tomlkit()
    doc = tomlkit.document()
    doc.add(tomlkit.comment(_header(funnel)))
    doc.add(tomlkit.nl())
    for key, value in funnel_to_data(funnel).items():
        doc.append(key, _table(value))
    return doc


def dump_funnel(funnel: Funnel, *, format: Format = "toml") -> str:
    """
    Write *funnel* as a new definition file's text (deterministic).

    ``loads_funnel(dump_funnel(f)) == f`` for every funnel whose machine a
    file can express (flat stages, named guards).

    Raises:
        FunnelError: TOML was asked for and tomlkit is not installed (the
            ``toml`` extra).
        ValidationError: *format* is neither ``"toml"`` nor ``"json"``.
        DefinitionError: the funnel uses names a definition file cannot hold
            (:func:`~funnel.io.definition.loads_funnel` would refuse the file);
            each problem names the stage or event.
    """
    _require_funnel(funnel)
    check_format(format)
    _check_loadable(funnel)
    if format == "json":
        return json.dumps(funnel_to_data(funnel), indent=2, ensure_ascii=False) + "\n"
    text: str = _tomlkit().dumps(_document(funnel))
    return text.strip() + "\n"


# --------------------------------------------------------------------------- in-place update


def _same(a: Any, b: Any) -> bool:
    """Equal plain values of the same types (``1`` is not ``true``, ``1`` is not ``1.0``)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _plain(item: Any) -> Any:
    unwrap = getattr(item, "unwrap", None)
    return unwrap() if unwrap is not None else item


#: Tables whose key order is part of the funnel (the machine declares stages and events in order).
_ORDERED: tuple[tuple[str, ...], ...] = (("stages",), ("events",))


def _update(
    target: Any,
    data: Mapping[str, Any],
    path: tuple[str, ...],
    inline: bool,
    changes: list[tuple[str, ...]],
) -> None:
    """
    Make the tomlkit container *target* hold *data*, touching only what differs.

    The path of every key added or changed is appended to *changes*.
    """
    tomlkit = _tomlkit()
    for key in [k for k in target if k not in data]:
        del target[key]
    for key, value in data.items():
        where = (*path, key)
        if key in target:
            current = target[key]
            if isinstance(value, Mapping) and isinstance(current, dict):
                is_inline = inline or isinstance(current, tomlkit.items.InlineTable)
                _update(current, value, where, is_inline, changes)
                continue
            if _same(_plain(current), value):
                continue
            new = _value(value)
            comment = getattr(getattr(current, "trivia", None), "comment", "")
            if comment and hasattr(new, "trivia"):
                new.trivia.comment_ws = current.trivia.comment_ws or "  "
                new.trivia.comment = comment
            target[key] = new
        elif isinstance(value, Mapping) and not inline:
            table = _table(value)
            table.append(None, tomlkit.nl())
            target[key] = table
        else:
            target[key] = _value(value)
        changes.append(where)
    if path in _ORDERED and list(target) != list(data):
        items = {key: target[key] for key in data}
        for key in data:
            del target[key]
        for key in data:
            target[key] = items[key]


def _alike(old: Any, where: tuple[str, ...], doc: Any) -> bool:
    """Whether the file's *old* value may mean what the new one at *where* means."""
    new = _plain(_resolve(doc, where))
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new)  # reordered, or items spelt with defaults
    return str(old) == str(new) or (
        isinstance(old, int | float) and isinstance(new, int | float) and old == new
    )


def _resolve(doc: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _loads_equal(text: str, funnel: Funnel) -> bool:
    from funnel.io.definition.build import funnel_from_data

    try:
        return funnel_from_data(tomllib.loads(text), guards=funnel.guards) == funnel
    except (tomllib.TOMLDecodeError, DefinitionError):
        return False


def update_toml(text: str, funnel: Funnel) -> str:
    """
    The TOML document *text* changed to define *funnel*, keeping its comments.

    Only what differs changes: keys and tables the funnel no longer has are
    removed, new ones appended (stages and events follow the funnel's order),
    and a key the funnel does not need (a default the file leaves out, a list
    in the file's own order) keeps the file's spelling. Text that is not
    TOML, or that cannot be updated faithfully, gives a new document
    (:func:`dump_funnel`).

    Raises:
        FunnelError: tomlkit is not installed (the ``toml`` extra).
    """
    tomlkit = _tomlkit()
    if _loads_equal(text, funnel):
        return text
    try:
        original = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError:
        return dump_funnel(funnel)
    doc = tomlkit.parse(text)
    changes: list[tuple[str, ...]] = []
    _update(doc, funnel_to_data(funnel), (), False, changes)
    # Undo each change the funnel does not need: restore the file's value, or drop the new key.
    for where in reversed(changes):
        try:
            old = _resolve(original, where)
        except KeyError:
            old = None
        if old is None and len(where) == 2 and where[:1] in _ORDERED:
            continue  # a new stage or event: always needed
        is_table = isinstance(old, dict) and not isinstance(old, tomlkit.items.InlineTable)
        if old is not None and (is_table or not _alike(_plain(old), where, doc)):
            continue  # a table that changed shape, or a value that really changed
        trial = tomlkit.parse(tomlkit.dumps(doc))
        container = _resolve(trial, where[:-1])
        if old is None:
            del container[where[-1]]
        else:
            container[where[-1]] = old
        candidate = tomlkit.dumps(trial)
        if _loads_equal(candidate, funnel):
            doc = trial
    updated = str(tomlkit.dumps(doc)).rstrip("\n") + "\n"
    return updated if _loads_equal(updated, funnel) else dump_funnel(funnel)


def save_funnel(funnel: Funnel, path: str | Path, *, format: Format | None = None) -> None:
    """
    Write *funnel* to *path* (TOML, or JSON for ``*.json``).

    Over an existing TOML file the document is updated in place
    (:func:`update_toml`): its comments and key order survive.

    Raises:
        FunnelError: a TOML file and tomlkit is not installed (the ``toml`` extra).
        PersistenceError: the file cannot be written (no such folder, no permission).
        DefinitionError: a file could not load the funnel (see :func:`dump_funnel`).
    """
    _require_funnel(funnel)
    check_path(path, "save_funnel()")
    if format is not None:
        check_format(format)
    _check_loadable(funnel)
    target = Path(path)
    fmt = format or format_of(target)
    text: str | None = None
    try:
        exists = target.is_file()
    except OSError as exc:  # e.g. a file name too long for the file system
        raise PersistenceError(
            f"cannot write funnel definition {str(target)!r}: {exc.strerror or exc}"
        ) from exc
    if fmt == "toml" and exists:
        try:
            existing = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            existing = None
        if existing is not None:
            text = update_toml(existing, funnel)
    if text is None:
        text = dump_funnel(funnel, format=fmt)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PersistenceError(
            f"cannot write funnel definition {str(target)!r}: {exc.strerror or exc}"
        ) from exc
