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
  file -> funnel gives an equal funnel.
* :func:`default_definition_path` is the shipped file of the sources' funnel;
  loading it gives a funnel equal to :data:`~funnel.DEFAULT_FUNNEL`.
* :func:`register` adds ``funnel check FILE`` and
  ``funnel diagram FILE --format svg|mermaid`` to the command line.

Line numbers: :mod:`tomllib` reports them only for syntax errors, so for
other problems the line is found by scanning the text for the table header
and key (``[stages.mql]`` then ``level =``). It is best effort: keys inside
inline tables point at the line of the enclosing key, and a key that cannot
be found has no line.

>>> f = load_funnel(default_definition_path())
>>> f == funnel.DEFAULT_FUNNEL, f.version
(True, '1')
"""

from __future__ import annotations

import argparse
import functools
import json
import keyword
import operator
import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import attrs
from statemachine import State
from statemachine.exceptions import InvalidDefinition

from funnel.engine.funnel import Funnel
from funnel.exceptions import DefinitionError, DefinitionProblem, DiagramError, ValidationError
from funnel.model.qualification import (
    FRAMEWORKS,
    Criterion,
    Framework,
    IdealCustomerProfile,
    PassRule,
)
from funnel.model.records import QualificationLevel
from funnel.model.touch import Reach
from funnel.spec.communication import (
    DEFAULT_COMMUNICATION,
    CommunicationPolicy,
    CommunicationRule,
)
from funnel.spec.definition import CONVERSION_GUARDS, Thresholds
from funnel.spec.guards import GUARDS
from funnel.spec.machine import FunnelStateMachine

Format = Literal["toml", "json"]
FORMATS: tuple[Format, ...] = ("toml", "json")

_Path = tuple[str | int, ...]

#: Every shipped criterion by key (the first framework declaring a key wins).
SHIPPED_CRITERIA: dict[str, Criterion] = {}
for _fw in FRAMEWORKS.values():
    for _c in _fw.criteria:
        SHIPPED_CRITERIA.setdefault(_c.key, _c)

_TOP_KEYS = (
    "funnel",
    "stages",
    "events",
    "qualification",
    "criteria",
    "icp",
    "thresholds",
    "communication",
)
_RESERVED_PREFIXES = ("on_", "before_", "after_", "enter_", "exit_", "prepare_", "_")
_RESERVED = frozenset(dir(FunnelStateMachine)) | {
    "model",
    "state_field",
    "start_value",
    "initial_state",
    "final_states",
    "listeners",
    "listeners_inherit",
}


def default_definition_path() -> Path:
    """The shipped definition file of the sources' funnel (``default_funnel.toml``)."""
    return Path(__file__).parent.parent / "data" / "default_funnel.toml"


# --------------------------------------------------------------------------- locating lines


def _split_dotted(name: str) -> tuple[str, ...]:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s]+)', name)
    return tuple(a or b or c for a, b, c in parts)


class _Locator:
    """Best-effort line numbers for key paths in the source text (1-based)."""

    def __init__(self, text: str | None, fmt: Format) -> None:
        self.lines = text.splitlines() if text is not None else []
        self.fmt = fmt
        self.headers: list[tuple[int, _Path]] = []
        if fmt == "toml":
            counts: dict[tuple[str, ...], int] = {}
            for i, raw in enumerate(self.lines):
                line = raw.strip()
                if line.startswith("[["):
                    name = _split_dotted(line[2 : line.find("]]")])
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    self.headers.append((i, (*name, index)))
                elif line.startswith("["):
                    self.headers.append((i, _split_dotted(line[1 : line.find("]")])))

    def line(self, path: _Path) -> int | None:
        if not self.lines:
            return None
        return self._toml(path) if self.fmt == "toml" else self._json(path)

    def _key_line(self, key: str, start: int, stop: int) -> int | None:
        pattern = re.compile(
            rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*[=.]"""
        )
        for i in range(start, stop):
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def _toml(self, path: _Path) -> int | None:
        best: tuple[int, int] | None = None  # (prefix length, header index)
        for h, (_, hpath) in enumerate(self.headers):
            n = len(hpath)
            if n <= len(path) and tuple(path[:n]) == hpath and (best is None or n > best[0]):
                best = (n, h)
        if best is None:
            start, stop, rest = 0, self.headers[0][0] if self.headers else len(self.lines), path
            header_line = None
        else:
            n, h = best
            start = self.headers[h][0] + 1
            stop = self.headers[h + 1][0] if h + 1 < len(self.headers) else len(self.lines)
            rest = path[n:]
            header_line = self.headers[h][0] + 1
        if not rest:
            return header_line
        if isinstance(rest[0], str):
            found = self._key_line(rest[0], start, stop)
            if found is not None:
                return found
        return header_line

    def _json(self, path: _Path) -> int | None:
        text = "\n".join(self.lines)
        pos, found = 0, None
        for part in path:
            if isinstance(part, int):
                continue
            match = re.compile(rf'"{re.escape(part)}"\s*:').search(text, pos)
            if match is None:
                break
            pos, found = match.end(), match.start()
        return None if found is None else text.count("\n", 0, found) + 1


def _dotted(path: _Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# --------------------------------------------------------------------------- reading


@attrs.define
class _Transition:
    source: str
    target: str
    cond: list[str]
    unless: list[str]
    path: _Path


class _Reader:
    """Checks the parsed data and collects every problem, with keys and lines."""

    def __init__(self, data: Mapping[str, Any], locator: _Locator) -> None:
        self.data = data
        self.loc = locator
        self.problems: list[DefinitionProblem] = []

    def problem(self, kind: str, message: str, path: _Path) -> None:
        self.problems.append(
            DefinitionProblem(kind, message, key=_dotted(path), line=self.loc.line(path))
        )

    # -- typed access ------------------------------------------------------------------------

    def get(
        self,
        table: Mapping[str, Any],
        key: str,
        types: type | tuple[type, ...],
        path: _Path,
        *,
        required: bool = False,
        default: Any = None,
    ) -> Any:
        if key not in table:
            if required:
                self.problem("missing-key", f"required key {key!r} is missing", path)
            return default
        value = table[key]
        want = types if isinstance(types, tuple) else (types,)
        if (isinstance(value, bool) and bool not in want) or not isinstance(value, want):
            names = " or ".join(_type_name(t) for t in want)
            self.problem(
                "wrong-type",
                f"expected {names}, got {_type_name(type(value))} {value!r}",
                (*path, key),
            )
            return default
        return value

    def table(self, parent: Mapping[str, Any], key: str, path: _Path) -> dict[str, Any]:
        value = self.get(parent, key, dict, path, default={})
        return value if isinstance(value, dict) else {}

    def strings(self, table: Mapping[str, Any], key: str, path: _Path) -> list[str]:
        value = self.get(table, key, (list, str), path, default=[])
        items = [value] if isinstance(value, str) else list(value)
        out: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, str):
                out.append(item)
            else:
                self.problem("wrong-type", f"expected a string, got {item!r}", (*path, key, i))
        return out

    def unknown_keys(self, table: Mapping[str, Any], allowed: Iterable[str], path: _Path) -> None:
        known = set(allowed)
        for key in table:
            if key not in known:
                self.problem(
                    "unknown-key",
                    f"unknown key {key!r}; expected one of: {', '.join(sorted(known))}",
                    (*path, key),
                )

    def name_ok(self, name: str, what: str, path: _Path) -> bool:
        if not name.isidentifier() or keyword.iskeyword(name):
            self.problem("bad-name", f"{what} {name!r} must be a Python identifier", path)
            return False
        if name in _RESERVED or name.startswith(_RESERVED_PREFIXES):
            self.problem(
                "bad-name", f"{what} {name!r} clashes with a name the state machine uses", path
            )
            return False
        return True

    # -- sections ----------------------------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        data = self.data
        self.unknown_keys(data, _TOP_KEYS, ())
        head = self.table(data, "funnel", ())
        if "funnel" not in data:
            self.problem("missing-key", "required table [funnel] is missing", ())
        self.unknown_keys(head, ("name", "version", "description"), ("funnel",))
        name = self.get(head, "name", str, ("funnel",), required="funnel" in data, default="")
        version = self.get(
            head, "version", (str, int), ("funnel",), required="funnel" in data, default="1"
        )
        description = self.get(head, "description", str, ("funnel",), default="")
        stages = self.read_stages()
        transitions, events = self.read_events(stages)
        self.check_graph(stages, transitions)
        framework, catalogue = self.read_framework()
        icp = self.read_icp(framework, catalogue)
        thresholds = self.read_thresholds()
        communication = self.read_communication(stages)
        if self.problems:
            return None
        return {
            "name": name,
            "version": str(version),
            "description": description,
            "stages": stages,
            "events": events,
            "transitions": transitions,
            "framework": framework,
            "icp": icp,
            "thresholds": thresholds,
            "communication": communication,
        }

    def read_stages(self) -> dict[str, dict[str, Any]]:
        table = self.table(self.data, "stages", ())
        if not table and "stages" not in self.data:
            self.problem("missing-key", "required table [stages] is missing", ())
        keys = ("name", "level", "initial", "final", "outcome", "qualification_level")
        out: dict[str, dict[str, Any]] = {}
        for sid, spec in table.items():
            path: _Path = ("stages", sid)
            if not isinstance(spec, dict):
                self.problem("wrong-type", f"stage {sid!r} must be a table", path)
                continue
            ok = self.name_ok(sid, "stage", path)
            self.unknown_keys(spec, keys, path)
            level = self.get(spec, "level", str, path, required=True)
            if level is not None and level not in ("lead", "prospect"):
                self.problem(
                    "invalid-value",
                    f"level must be 'lead' or 'prospect', got {level!r}",
                    (*path, "level"),
                )
                level = None
            final = self.get(spec, "final", bool, path, default=False)
            outcome = self.get(spec, "outcome", str, path)
            if outcome is not None and outcome not in ("won", "lost"):
                self.problem(
                    "invalid-value",
                    f"outcome must be 'won' or 'lost', got {outcome!r}",
                    (*path, "outcome"),
                )
            elif outcome is not None and not final:
                self.problem(
                    "outcome-not-final",
                    f"stage {sid!r} has an outcome but is not final (add final = true)",
                    (*path, "outcome"),
                )
            qlevel = self.get(spec, "qualification_level", str, path)
            if qlevel is not None:
                if qlevel not in {q.value for q in QualificationLevel}:
                    self.problem(
                        "invalid-value",
                        f"qualification_level must be 'raw', 'mql' or 'sql', got {qlevel!r}",
                        (*path, "qualification_level"),
                    )
                elif level == "prospect":
                    self.problem(
                        "bad-qualification-level",
                        f"only lead stages set a qualification level; {sid!r} is a prospect stage",
                        (*path, "qualification_level"),
                    )
            if ok:
                out[sid] = {
                    "name": self.get(spec, "name", str, path),
                    "level": level,
                    "initial": self.get(spec, "initial", bool, path, default=False),
                    "final": final,
                    "outcome": outcome,
                    "qualification_level": qlevel,
                }
        initials = [s for s, spec in out.items() if spec["initial"]]
        if out and not initials:
            self.problem("missing-initial", "no stage is marked initial = true", ("stages",))
        for extra in initials[1:]:
            self.problem(
                "multiple-initial",
                f"stage {extra!r} is initial too; only {initials[0]!r} may be",
                ("stages", extra, "initial"),
            )
        if initials and out[initials[0]]["level"] == "prospect":
            self.problem(
                "initial-not-lead",
                f"initial stage {initials[0]!r} must be a lead stage",
                ("stages", initials[0], "level"),
            )
        for sid, spec in out.items():
            if spec["initial"] and spec["final"]:
                self.problem(
                    "initial-final", f"stage {sid!r} cannot be initial and final", ("stages", sid)
                )
        return out

    def read_transition(
        self, spec: Mapping[str, Any], stages: Mapping[str, Any], path: _Path
    ) -> list[_Transition]:
        self.unknown_keys(spec, ("from", "to", "guards", "unless"), path)
        sources = self.strings(spec, "from", path)
        if "from" not in spec:
            self.problem("missing-key", "required key 'from' is missing", path)
        target = self.get(spec, "to", str, path, required=True)
        cond = self.strings(spec, "guards", path)
        unless = self.strings(spec, "unless", path)
        bad = False
        for key, names in (("guards", cond), ("unless", unless)):
            for i, guard in enumerate(names):
                if guard not in GUARDS:
                    self.problem(
                        "unknown-guard",
                        f"guard {guard!r} is not registered; known: {', '.join(sorted(GUARDS))}",
                        (*path, key, i),
                    )
                    bad = True
        seen = cond + unless
        for guard in sorted({g for g in seen if seen.count(g) > 1}):
            self.problem("duplicate-guard", f"guard {guard!r} used twice", path)
            bad = True
        for i, source in enumerate(sources):
            if source not in stages:
                where = (
                    (*path, "from", i) if isinstance(spec.get("from"), list) else (*path, "from")
                )
                self.problem("unknown-stage", f"no stage {source!r} is declared", where)
                bad = True
        if target is not None and target not in stages:
            self.problem("unknown-stage", f"no stage {target!r} is declared", (*path, "to"))
            bad = True
        if bad or target is None:
            return []
        return [_Transition(s, target, cond, unless, path) for s in sources]

    def read_events(self, stages: Mapping[str, Any]) -> tuple[list[_Transition], list[str]]:
        table = self.table(self.data, "events", ())
        if not table and "events" not in self.data:
            self.problem("missing-key", "required table [events] is missing", ())
        transitions: list[_Transition] = []
        events: list[str] = []
        for eid, spec in table.items():
            path: _Path = ("events", eid)
            if not isinstance(spec, dict):
                self.problem("wrong-type", f"event {eid!r} must be a table", path)
                continue
            if not self.name_ok(eid, "event", path):
                continue
            if eid in stages:
                self.problem("bad-name", f"event {eid!r} has the name of a stage", path)
                continue
            if "transitions" in spec:
                self.unknown_keys(spec, ("transitions",), path)
                items = self.get(spec, "transitions", list, path, default=[])
                for i, item in enumerate(items):
                    if not isinstance(item, dict):
                        self.problem(
                            "wrong-type", "a transition must be a table", (*path, "transitions", i)
                        )
                        continue
                    transitions.extend(
                        self.read_transition(item, stages, (*path, "transitions", i))
                    )
                if not items:
                    self.problem("empty-event", f"event {eid!r} has no transitions", path)
            else:
                transitions.extend(self.read_transition(spec, stages, path))
            events.append(eid)
        return transitions, events

    def check_graph(
        self, stages: Mapping[str, Mapping[str, Any]], transitions: Sequence[_Transition]
    ) -> None:
        """Rules python-statemachine and the funnel enforce, checked here with keys and lines."""
        # Stage and event problems leave the graph incomplete: check each edge anyway, but
        # reachability only on a complete graph (it would just repeat the other problems).
        complete = not self.problems
        succ: dict[str, set[str]] = {s: set() for s in stages}
        for t in transitions:
            succ[t.source].add(t.target)
            src, dst = stages[t.source], stages[t.target]
            edge = f"{t.source} -> {t.target}"
            if src["final"]:
                self.problem(
                    "final-has-transitions",
                    f"final stage {t.source!r} cannot have outgoing transitions ({edge})",
                    t.path,
                )
            if src["level"] == "prospect" and dst["level"] == "lead":
                self.problem(
                    "prospect-to-lead",
                    f"{edge}: a prospect can never become a lead again",
                    t.path,
                )
            if src["level"] == "lead" and dst["level"] == "prospect":
                guards = {(g, True) for g in t.cond} | {(g, False) for g in t.unless}
                if not guards >= CONVERSION_GUARDS:
                    self.problem(
                        "unguarded-conversion",
                        f"{edge}: becoming a prospect requires guards is_two_way and is_qualified",
                        t.path,
                    )
        initial = next((s for s, spec in stages.items() if spec["initial"]), None)
        if initial is None or not complete:
            return
        reached = _closure({initial}, succ)
        for sid in stages:
            if sid not in reached:
                self.problem(
                    "unreachable-stage",
                    f"stage {sid!r} cannot be reached from the initial stage {initial!r}",
                    ("stages", sid),
                )
        finals = {s for s, spec in stages.items() if spec["final"]}
        for sid, spec in stages.items():
            if spec["final"] or sid not in reached:
                continue
            if not succ[sid]:
                self.problem(
                    "trap-stage",
                    f"stage {sid!r} is not final but no event leaves it",
                    ("stages", sid),
                )
            elif finals and not (_closure({sid}, succ) & finals):
                self.problem(
                    "no-way-out",
                    f"no path leads from stage {sid!r} to a final stage",
                    ("stages", sid),
                )

    def read_criterion(self, key: str, spec: Any, path: _Path) -> Criterion | None:
        if not isinstance(spec, dict):
            self.problem("wrong-type", f"criterion {key!r} must be a table", path)
            return None
        self.unknown_keys(spec, ("name", "question", "aliases"), path)
        name = self.get(spec, "name", str, path, default=key.replace("_", " ").capitalize())
        question = self.get(spec, "question", str, path, default="")
        aliases = self.strings(spec, "aliases", path)
        try:
            return Criterion(key=key, name=name, question=question, aliases=frozenset(aliases))
        except ValueError as exc:
            self.problem("bad-name", str(exc), path)
            return None

    def read_framework(self) -> tuple[Framework | None, dict[str, Criterion]]:
        count = len(self.problems)
        catalogue: dict[str, Criterion] = dict(SHIPPED_CRITERIA)
        for key, spec in self.table(self.data, "criteria", ()).items():
            found = self.read_criterion(key, spec, ("criteria", key))
            if found is not None:
                catalogue[key] = found
        path: _Path = ("qualification",)
        table = self.table(self.data, "qualification", ())
        self.unknown_keys(
            table, ("framework", "criteria", "rule", "at_least", "description"), path
        )
        name = self.get(table, "framework", str, path, default="default")
        description = self.get(table, "description", str, path)
        rule = self.read_rule(table, path)
        criteria: list[Criterion] = []
        if "criteria" in table:
            keys = self.strings(table, "criteria", path)
            if not keys and isinstance(table["criteria"], list):
                self.problem("missing-key", "a framework needs at least one criterion", path)
            for i, key in enumerate(keys):
                if key not in catalogue:
                    self.problem(
                        "unknown-criterion",
                        f"framework {name!r} names unknown criterion {key!r}; declare it in "
                        f"[criteria.{key}] or use a shipped one "
                        f"({', '.join(sorted(SHIPPED_CRITERIA))})",
                        (*path, "criteria", i),
                    )
                elif key in [c.key for c in criteria]:
                    self.problem(
                        "duplicate-criterion",
                        f"criterion {key!r} listed twice",
                        (*path, "criteria", i),
                    )
                else:
                    criteria.append(catalogue[key])
        elif name not in FRAMEWORKS:
            self.problem(
                "unknown-framework",
                f"no shipped framework {name!r} ({', '.join(FRAMEWORKS)}); "
                "list its criteria to define your own",
                (*path, "framework"),
            )
            return None, catalogue
        if rule is None or len(self.problems) > count:
            return None, catalogue
        if "criteria" not in table:
            shipped = FRAMEWORKS[name]
            criteria = list(shipped.criteria)
            if description is None:
                description = shipped.description
        if rule.k is not None and rule.k > len(criteria):
            self.problem(
                "threshold-out-of-range",
                f"at_least = {rule.k} but framework {name!r} has only {len(criteria)} criteria",
                (*path, "at_least"),
            )
            return None, catalogue
        return (
            Framework(name=name, criteria=criteria, rule=rule, description=description or ""),
            catalogue,
        )

    def read_rule(self, table: Mapping[str, Any], path: _Path) -> PassRule | None:
        if "at_least" in table:
            if "rule" in table and table["rule"] != "at-least":
                self.problem(
                    "conflicting-keys", "give either rule = 'all' or at_least = k", (*path, "rule")
                )
                return None
            k = self.get(table, "at_least", int, path)
            if k is None:
                return None
            if k < 1:
                self.problem(
                    "threshold-out-of-range",
                    f"at_least must be >= 1, got {k}",
                    (*path, "at_least"),
                )
                return None
            return PassRule.at_least(k)
        rule = self.get(table, "rule", str, path, default="all")
        if rule != "all":
            self.problem(
                "invalid-value",
                f"rule must be 'all' (or give at_least = k), got {rule!r}",
                (*path, "rule"),
            )
            return None
        return PassRule.all()

    def read_icp(
        self, framework: Framework | None, catalogue: Mapping[str, Criterion]
    ) -> IdealCustomerProfile | None:
        if "icp" not in self.data:
            return None
        path: _Path = ("icp",)
        table = self.table(self.data, "icp", ())
        self.unknown_keys(
            table,
            (
                "industries",
                "regions",
                "min_employees",
                "max_employees",
                "min_revenue",
                "criterion",
            ),
            path,
        )
        count = len(self.problems)
        industries = self.strings(table, "industries", path)
        regions = self.strings(table, "regions", path)
        bounds = {}
        for key in ("min_employees", "max_employees"):
            value = self.get(table, key, int, path)
            if value is not None and value < 0:
                self.problem("invalid-value", f"{key} must be >= 0, got {value}", (*path, key))
            bounds[key] = value
        revenue = self.get(table, "min_revenue", (int, float, str), path)
        min_revenue: Decimal | None = None
        if revenue is not None:
            try:
                min_revenue = Decimal(str(revenue))
            except InvalidOperation:
                self.problem(
                    "invalid-value",
                    f"min_revenue must be a number, got {revenue!r}",
                    (*path, "min_revenue"),
                )
        criterion = self.get(table, "criterion", str, path, default="fit")
        known = catalogue.keys() | (
            {k for c in framework.criteria for k in (c.key, *c.aliases)} if framework else set()
        )
        if criterion not in known:
            self.problem(
                "unknown-criterion",
                f"the profile decides unknown criterion {criterion!r}",
                (*path, "criterion"),
            )
        lo, hi = bounds["min_employees"], bounds["max_employees"]
        if lo is not None and hi is not None and lo > hi:
            self.problem(
                "invalid-value",
                f"min_employees {lo} > max_employees {hi}",
                (*path, "min_employees"),
            )
        if len(self.problems) > count:
            return None
        return IdealCustomerProfile(
            industries=frozenset(industries),
            regions=frozenset(regions),
            min_employees=lo,
            max_employees=hi,
            min_revenue=min_revenue,
            criterion=criterion,
        )

    def read_thresholds(self) -> Thresholds | None:
        path: _Path = ("thresholds",)
        table = self.table(self.data, "thresholds", ())
        self.unknown_keys(table, ("mql", "sql"), path)
        default = Thresholds()
        values: dict[str, float] = {}
        for key in ("mql", "sql"):
            value = self.get(table, key, (int, float), path, default=getattr(default, key))
            if value is None:
                return None
            if not 0 <= value <= 100:
                self.problem(
                    "threshold-out-of-range",
                    f"{key} threshold must be between 0 and 100, got {value}",
                    (*path, key),
                )
                return None
            values[key] = value
        if values["mql"] > values["sql"]:
            self.problem(
                "threshold-out-of-range",
                f"the mql threshold ({values['mql']}) must not exceed the sql threshold "
                f"({values['sql']})",
                (*path, "mql"),
            )
            return None
        return Thresholds(mql=values["mql"], sql=values["sql"])

    def read_rules(self, value: Any, path: _Path) -> list[CommunicationRule]:
        if not isinstance(value, list):
            self.problem("wrong-type", "expected a list of rules", path)
            return []
        rules: list[CommunicationRule] = []
        for i, spec in enumerate(value):
            where = (*path, i)
            if not isinstance(spec, dict):
                self.problem("wrong-type", "a rule must be a table", where)
                continue
            self.unknown_keys(spec, ("reach", "senders"), where)
            reach = self.get(spec, "reach", str, where, required=True)
            senders = self.strings(spec, "senders", where)
            if reach is None:
                continue
            if reach not in {r.value for r in Reach}:
                self.problem(
                    "invalid-value",
                    f"reach must be 'mass' or 'personal', got {reach!r}",
                    (*where, "reach"),
                )
                continue
            rules.append(CommunicationRule(reach=Reach(reach), senders=frozenset(senders)))
        return rules

    def read_communication(self, stages: Mapping[str, Any]) -> CommunicationPolicy | None:
        if "communication" not in self.data:
            return DEFAULT_COMMUNICATION
        path: _Path = ("communication",)
        table = self.table(self.data, "communication", ())
        self.unknown_keys(table, ("lead", "prospect", "lead_levels", "stages"), path)
        count = len(self.problems)
        by_level = {}
        for key in ("lead", "prospect"):
            if key not in table:
                self.problem("missing-key", f"required key {key!r} is missing", path)
                continue
            by_level[key] = self.read_rules(table[key], (*path, key))
        lead_levels = {}
        for key, value in self.table(table, "lead_levels", path).items():
            if key not in {q.value for q in QualificationLevel}:
                self.problem(
                    "invalid-value",
                    f"unknown lead level {key!r}; use 'raw', 'mql' or 'sql'",
                    (*path, "lead_levels", key),
                )
                continue
            lead_levels[key] = self.read_rules(value, (*path, "lead_levels", key))
        by_stage = {}
        for key, value in self.table(table, "stages", path).items():
            if key not in stages:
                self.problem(
                    "unknown-stage",
                    f"communication rules name stage {key!r}, which is not declared",
                    (*path, "stages", key),
                )
                continue
            by_stage[key] = self.read_rules(value, (*path, "stages", key))
        if len(self.problems) > count:
            return None
        return CommunicationPolicy(
            lead=by_level["lead"],
            prospect=by_level["prospect"],
            lead_levels=lead_levels,
            stages=by_stage,
        )


def _closure(start: set[str], succ: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in succ[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _type_name(t: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "a list",
        dict: "a table",
    }.get(t, t.__name__)


def _class_name(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    base = "".join(w[:1].upper() + w[1:] for w in words) or "Company"
    if base[0].isdigit():
        base = "F" + base
    return base if base.endswith("Funnel") else base + "Funnel"


def build_machine(
    name: str,
    stages: Mapping[str, Mapping[str, Any]],
    events: Sequence[str],
    transitions: Sequence[Any],
) -> type[FunnelStateMachine]:
    """
    Build the :class:`~funnel.spec.machine.FunnelStateMachine` subclass a definition declares.

    *stages* maps each stage id to its ``name``, ``level``, ``initial``,
    ``final``, ``outcome`` and ``qualification_level``; *transitions* have
    ``source``, ``target``, ``cond`` and ``unless``, in file order.
    """
    namespace: dict[str, Any] = {"__module__": __name__}
    for sid, spec in stages.items():
        kwargs: dict[str, Any] = {"initial": spec["initial"], "final": spec["final"]}
        if spec["name"] is not None:
            kwargs["name"] = spec["name"]
        namespace[sid] = State(**kwargs)
    for eid in events:
        parts = [
            namespace[t.source].to(namespace[t.target], cond=list(t.cond), unless=list(t.unless))
            for t in transitions
            if t.path[:2] == ("events", eid)
        ]
        namespace[eid] = functools.reduce(operator.or_, parts)
    namespace["levels"] = {sid: spec["level"] for sid, spec in stages.items()}
    namespace["outcomes"] = {
        sid: spec["outcome"] for sid, spec in stages.items() if spec["outcome"]
    }
    namespace["qualification_levels"] = {
        sid: spec["qualification_level"]
        for sid, spec in stages.items()
        if spec["qualification_level"]
    }
    machine: type[FunnelStateMachine] = type(_class_name(name), (FunnelStateMachine,), namespace)
    return machine


def funnel_from_data(
    data: Mapping[str, Any],
    *,
    source: str | None = None,
    text: str | None = None,
    format: Format = "toml",
) -> Funnel:
    """
    Build a :class:`~funnel.Funnel` from parsed definition data (TOML or JSON shape).

    *text* (the file's text) lets problems carry line numbers.

    Raises:
        DefinitionError: every problem found, each with its key and, where
            known, its line.
    """
    if not isinstance(data, Mapping):
        raise DefinitionError(
            [DefinitionProblem("wrong-type", "the definition must be a table / JSON object")],
            source=source,
        )
    reader = _Reader(data, _Locator(text, format))
    spec = reader.read()
    if spec is None:
        raise DefinitionError(reader.problems, source=source)
    try:
        machine = build_machine(spec["name"], spec["stages"], spec["events"], spec["transitions"])
    except InvalidDefinition as exc:  # pragma: no cover - check_graph finds these first
        raise DefinitionError(
            [DefinitionProblem("machine", str(exc), key="stages")], source=source
        ) from exc
    try:
        return Funnel(
            machine=machine,
            name=spec["name"],
            version=spec["version"],
            description=spec["description"],
            framework=spec["framework"],
            icp=spec["icp"],
            thresholds=spec["thresholds"],
            communication=spec["communication"],
        )
    except DefinitionError as exc:  # pragma: no cover - check_graph finds these first
        raise DefinitionError(exc.problems, source=source) from exc


def _parse(text: str, format: Format, source: str | None) -> Any:
    if format == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            line = int(match.group(1)) if match else None
            message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
            if match:
                message += f" (column {match.group(2)})"
            problem = DefinitionProblem("syntax", f"invalid TOML: {message}", line=line)
            raise DefinitionError([problem], source=source) from exc
    if format == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            problem = DefinitionProblem(
                "syntax", f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno
            )
            raise DefinitionError([problem], source=source) from exc
    raise ValidationError(f"unknown format {format!r}; use 'toml' or 'json'")


def loads_funnel(text: str, *, format: Format = "toml", source: str | None = None) -> Funnel:
    """
    Read a funnel definition from *text*.

    Args:
        text: The definition.
        format: ``"toml"`` or ``"json"``.
        source: Where it came from, for error messages (e.g. a file name).

    Raises:
        DefinitionError: the text does not parse, or the definition is invalid.
    """
    data = _parse(text, format, source)
    return funnel_from_data(data, source=source, text=text, format=format)


def format_of(path: str | Path) -> Format:
    """The format a file name implies: ``.json`` is JSON, anything else TOML."""
    return "json" if Path(path).suffix.lower() == ".json" else "toml"


def load_funnel(path: str | Path, *, format: Format | None = None) -> Funnel:
    """
    Read a funnel definition file (TOML, or JSON for ``*.json``).

    Raises:
        DefinitionError: the file does not parse or the definition is invalid;
            ``source`` is the path and each problem names its key and line.
        LoadError: the file cannot be read.
    """
    from funnel.exceptions import LoadError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"cannot read funnel definition {str(path)!r}: {exc}") from exc
    return loads_funnel(text, format=format or format_of(path), source=str(path))


# --------------------------------------------------------------------------- writing


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


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any, indent: str = "") -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list):
        items = [_toml_value(v) for v in value]
        one_line = "[" + ", ".join(items) + "]"
        if not any(isinstance(v, dict) for v in value) and len(one_line) <= 72:
            return one_line
        return "[\n" + "".join(f"{indent}    {item},\n" for item in items) + f"{indent}]"
    raise ValidationError(f"cannot write {type(value).__name__} to TOML: {value!r}")


def _write_table(path: tuple[str, ...], table: Mapping[str, Any], out: list[str]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, dict)]
    subtables = [(k, v) for k, v in table.items() if isinstance(v, dict)]
    if path and (scalars or not subtables):
        out.append("")
        out.append("[" + ".".join(_toml_key(p) for p in path) + "]")
    out.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars)
    for key, sub in subtables:
        _write_table((*path, key), sub, out)


def dump_funnel(funnel: Funnel, *, format: Format = "toml") -> str:
    """
    Write *funnel* as a definition file's text (deterministic).

    ``loads_funnel(dump_funnel(f)) == f`` for every funnel whose machine a
    file can express (flat stages, named guards).
    """
    data = funnel_to_data(funnel)
    if format == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if format != "toml":
        raise ValidationError(f"unknown format {format!r}; use 'toml' or 'json'")
    out = [f"# Funnel definition {funnel.name!r} version {funnel.version}, written by funnel."]
    _write_table((), data, out)
    return "\n".join(out).strip() + "\n"


def save_funnel(funnel: Funnel, path: str | Path, *, format: Format | None = None) -> None:
    """Write *funnel* to *path* (TOML, or JSON for ``*.json``)."""
    Path(path).write_text(dump_funnel(funnel, format=format or format_of(path)), encoding="utf-8")


# --------------------------------------------------------------------------- command line


def format_problem(problem: DefinitionProblem, source: str | None) -> str:
    """One line per problem: ``FILE:LINE: [kind] key: message``."""
    where = source or "<definition>"
    if problem.line is not None:
        where += f":{problem.line}"
    key = f" {problem.key}:" if problem.key else ""
    return f"{where}: [{problem.kind}]{key} {problem.message}"


def _load_for_cli(path: str) -> Funnel | None:
    from funnel.exceptions import LoadError

    try:
        return load_funnel(path)
    except DefinitionError as exc:
        for problem in exc.problems:
            sys.stderr.write(format_problem(problem, exc.source or path) + "\n")
        sys.stderr.write(f"{path}: {len(exc.problems)} problem(s)\n")
    except LoadError as exc:
        sys.stderr.write(f"funnel: {exc}\n")
    return None


def _check(args: argparse.Namespace) -> int:
    funnel = _load_for_cli(args.file)
    if funnel is None:
        return 1
    sys.stdout.write(
        f"{args.file}: ok - funnel {funnel.name!r} v{funnel.version}: "
        f"{len(funnel.lead_stages)} lead and {len(funnel.prospect_stages)} prospect stages, "
        f"{len(funnel.table.events)} events, framework {funnel.framework.name} "
        f"({funnel.framework.rule} of {len(funnel.framework.criteria)})\n"
    )
    return 0


def _diagram(args: argparse.Namespace) -> int:
    from funnel.spec import diagrams

    funnel = _load_for_cli(args.file)
    if funnel is None:
        return 1
    render: Callable[[Funnel], str] = diagrams.svg if args.format == "svg" else diagrams.mermaid
    try:
        text = render(funnel)
    except DiagramError as exc:
        sys.stderr.write(f"funnel: {exc}\n")
        return 1
    text = text if text.endswith("\n") else text + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def register(subparsers: Any) -> None:
    """Add ``check`` and ``diagram`` to the ``funnel`` command line."""
    check = subparsers.add_parser(
        "check",
        help="validate a funnel definition file",
        description="Validate a funnel definition file (TOML or JSON); list every problem.",
    )
    check.add_argument("file", help="the definition file (.toml or .json)")
    check.set_defaults(handler=_check)
    diagram = subparsers.add_parser(
        "diagram",
        help="draw a funnel definition",
        description="Draw a funnel definition as mermaid text or SVG (needs Graphviz).",
    )
    diagram.add_argument("file", help="the definition file (.toml or .json)")
    diagram.add_argument("--format", choices=("svg", "mermaid"), default="mermaid")
    diagram.add_argument("-o", "--output", help="write here instead of standard output")
    diagram.set_defaults(handler=_diagram)
