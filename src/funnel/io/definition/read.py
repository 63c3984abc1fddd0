"""
Reading a definition: parse the text, check the data, collect every problem.

:func:`parse` turns text into data with :mod:`tomllib` or :mod:`json`;
:func:`read_data` checks that data against the definition-file schema
(``docs/reference/definition-file.md``) and returns a :class:`Definition`
of plain values, or raises one :class:`~funnel.exceptions.DefinitionError`
listing every problem, each with its key and (through
:class:`~funnel.io.definition.locate.Locator`) its line. Nothing here builds
a machine or a funnel: that is :mod:`funnel.io.definition.build`.

>>> text = '[funnel]\\nname = "x"\\n[stages.new]\\nlevel = "leed"\\n'
>>> data = parse(text)
>>> read_data(data, text=text, default_thresholds={"mql": 50, "sql": 75},
...           conversion_guards=frozenset())
Traceback (most recent call last):
...
funnel.exceptions.DefinitionError: ...
"""

from __future__ import annotations

import json
import keyword
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from funnel._base.fields import shown
from funnel._base.items import nesting_depth
from funnel.exceptions import DefinitionError, DefinitionProblem, ValidationError
from funnel.io._json import Twice, pairs_hook
from funnel.io.definition.locate import Format, KeyPath, Locator, check_format, dotted
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
from funnel.spec.guards import GUARDS, GuardRegistry
from funnel.spec.machine import FunnelStateMachine

__all__ = [
    "SHIPPED_CRITERIA",
    "Definition",
    "Reader",
    "TransitionSpec",
    "parse",
    "read_data",
]

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


def _instance_attributes() -> frozenset[str]:
    """What python-statemachine sets on each machine instance (``history_values``, ...)."""
    from funnel.spec.machine import SalesFunnel

    machine = SalesFunnel()
    return frozenset(vars(machine)) - {state.id for state in SalesFunnel.states}


_RESERVED = (
    frozenset(dir(FunnelStateMachine))
    | _instance_attributes()
    | {
        "model",
        "state_field",
        "start_value",
        "initial_state",
        "final_states",
        "listeners",
        "listeners_inherit",
    }
)


@attrs.frozen
class TransitionSpec:
    """One ``source -> target`` edge of an event, with its guards and where it was declared."""

    source: str
    target: str
    cond: list[str]
    unless: list[str]
    path: KeyPath


@attrs.frozen
class Definition:
    """
    A checked definition as plain values, ready to build.

    *stages* maps each stage id to its ``name``, ``level``, ``initial``,
    ``final``, ``outcome`` and ``qualification_level``; *transitions* are in
    file order; *thresholds* has ``mql`` and ``sql``.
    """

    name: str
    version: str
    description: str
    stages: dict[str, dict[str, Any]]
    events: list[str]
    transitions: list[TransitionSpec]
    framework: Framework
    icp: IdealCustomerProfile | None
    thresholds: dict[str, float]
    communication: CommunicationPolicy


class Reader:
    """Checks the parsed data and collects every problem, with keys and lines."""

    def __init__(
        self,
        data: Mapping[str, Any],
        locator: Locator,
        *,
        default_thresholds: Mapping[str, float],
        conversion_guards: AbstractSet[tuple[str, bool]],
        guards: GuardRegistry = GUARDS,
    ) -> None:
        self.data = data
        self.guards = guards
        self.loc = locator
        self.default_thresholds = default_thresholds
        self.conversion_guards = conversion_guards
        self.problems: list[DefinitionProblem] = []

    def problem(self, kind: str, message: str, path: KeyPath) -> None:
        self.problems.append(
            DefinitionProblem(kind, message, key=dotted(path), line=self.loc.line(path))
        )

    # -- typed access ------------------------------------------------------------------------

    def get(
        self,
        table: Mapping[str, Any],
        key: str,
        types: type | tuple[type, ...],
        path: KeyPath,
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

    def table(self, parent: Mapping[str, Any], key: str, path: KeyPath) -> dict[str, Any]:
        value = self.get(parent, key, dict, path, default={})
        return value if isinstance(value, dict) else {}

    def strings(
        self, table: Mapping[str, Any], key: str, path: KeyPath, *, single: bool = False
    ) -> list[str]:
        """A list of strings; with *single*, one string is taken as a list of one."""
        value = self.get(table, key, (list, str) if single else list, path, default=[])
        items = [value] if isinstance(value, str) else list(value)
        out: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, str):
                out.append(item)
            else:
                self.problem("wrong-type", f"expected a string, got {item!r}", (*path, key, i))
        return out

    def unknown_keys(
        self, table: Mapping[str, Any], allowed: Iterable[str], path: KeyPath
    ) -> None:
        known = set(allowed)
        for key in table:
            if key not in known:
                self.problem(
                    "unknown-key",
                    f"unknown key {key!r}; expected one of: {', '.join(sorted(known))}",
                    (*path, key),
                )

    def name_ok(self, name: str, what: str, path: KeyPath) -> bool:
        if not name.isidentifier() or keyword.iskeyword(name):
            self.problem("bad-name", f"{what} {name!r} must be a Python identifier", path)
            return False
        if name in _RESERVED or name.startswith(_RESERVED_PREFIXES):
            self.problem(
                "bad-name", f"{what} {name!r} clashes with a name the state machine uses", path
            )
            return False
        if name in self.guards:  # the machine would resolve the guard name to the stage
            self.problem("bad-name", f"{what} {name!r} clashes with the guard {name!r}", path)
            return False
        return True

    # -- sections ----------------------------------------------------------------------------

    def read(self) -> Definition | None:
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
        if framework is None or thresholds is None or communication is None:  # pragma: no cover
            return None  # each None above comes with a problem
        return Definition(
            name=name,
            version=str(version),
            description=description,
            stages=stages,
            events=events,
            transitions=transitions,
            framework=framework,
            icp=icp,
            thresholds=thresholds,
            communication=communication,
        )

    def read_stages(self) -> dict[str, dict[str, Any]]:
        table = self.table(self.data, "stages", ())
        if not table and "stages" not in self.data:
            self.problem("missing-key", "required table [stages] is missing", ())
        keys = ("name", "level", "initial", "final", "outcome", "qualification_level")
        out: dict[str, dict[str, Any]] = {}
        if len(table) > MAX_STAGES:
            self.problem(
                "too-many",
                f"{len(table):,} stages; a funnel has at most {MAX_STAGES:,}",
                ("stages",),
            )
            return out
        for sid, spec in table.items():
            path: KeyPath = ("stages", sid)
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
        self, spec: Mapping[str, Any], stages: Mapping[str, Any], path: KeyPath
    ) -> list[TransitionSpec]:
        self.unknown_keys(spec, ("from", "to", "guards", "unless"), path)
        sources = self.strings(spec, "from", path, single=True)
        if "from" not in spec:
            self.problem("missing-key", "required key 'from' is missing", path)
        target = self.get(spec, "to", str, path, required=True)
        cond = self.strings(spec, "guards", path)
        unless = self.strings(spec, "unless", path)
        bad = False
        for key, names in (("guards", cond), ("unless", unless)):
            for i, guard in enumerate(names):
                if guard not in self.guards:
                    known = ", ".join(sorted(self.guards))
                    self.problem(
                        "unknown-guard",
                        f"guard {guard!r} is not registered; known: {known}",
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
        return [TransitionSpec(s, target, cond, unless, path) for s in sources]

    def read_events(self, stages: Mapping[str, Any]) -> tuple[list[TransitionSpec], list[str]]:
        table = self.table(self.data, "events", ())
        if not table and "events" not in self.data:
            self.problem("missing-key", "required table [events] is missing", ())
        transitions: list[TransitionSpec] = []
        events: list[str] = []
        if len(table) > MAX_TRANSITIONS:
            self.problem(
                "too-many",
                f"{len(table):,} events; a funnel has at most {MAX_TRANSITIONS:,}",
                ("events",),
            )
            return transitions, events
        for eid, spec in table.items():
            path: KeyPath = ("events", eid)
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
        self, stages: Mapping[str, Mapping[str, Any]], transitions: Sequence[TransitionSpec]
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
                if not guards >= self.conversion_guards:
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
        # One backward search from the final stages (linear, not one search per stage).
        pred: dict[str, set[str]] = {s: set() for s in stages}
        for source, targets in succ.items():
            for target in targets:
                pred[target].add(source)
        leads_out = _closure(finals, pred)
        for sid, spec in stages.items():
            if spec["final"] or sid not in reached:
                continue
            if not succ[sid]:
                self.problem(
                    "trap-stage",
                    f"stage {sid!r} is not final but no event leaves it",
                    ("stages", sid),
                )
            elif finals and sid not in leads_out:
                self.problem(
                    "no-way-out",
                    f"no path leads from stage {sid!r} to a final stage",
                    ("stages", sid),
                )

    def read_criterion(self, key: str, spec: Any, path: KeyPath) -> Criterion | None:
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
        path: KeyPath = ("qualification",)
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
        self.check_aliases(criteria, (*path, "criteria"))
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

    def check_aliases(self, criteria: Sequence[Criterion], path: KeyPath) -> None:
        """One finding counts for one criterion: no alias is another's key or alias."""
        owner = {c.key: c.key for c in criteria}
        for i, criterion in enumerate(criteria):
            for alias in sorted(criterion.aliases):
                other = owner.get(alias)
                if other is not None and other != criterion.key:
                    self.problem(
                        "duplicate-criterion",
                        f"criterion {criterion.key!r} has alias {alias!r}, which is also "
                        f"{'criterion' if alias == other else 'an alias of criterion'} "
                        f"{other!r}: one finding would count twice",
                        (*path, i),
                    )
                else:
                    owner[alias] = criterion.key

    def read_rule(self, table: Mapping[str, Any], path: KeyPath) -> PassRule | None:
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
        path: KeyPath = ("icp",)
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
            else:
                if not min_revenue.is_finite() or min_revenue < 0:
                    self.problem(
                        "invalid-value",
                        f"min_revenue must be a finite number >= 0, got {revenue!r}",
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
        try:
            return IdealCustomerProfile(
                industries=frozenset(industries),
                regions=frozenset(regions),
                min_employees=lo,
                max_employees=hi,
                min_revenue=min_revenue,
                criterion=criterion,
            )
        except ValidationError as exc:  # any rule the profile itself enforces
            self.problem("invalid-value", exc.summary, (*path, exc.field or "icp"))
            return None

    def read_thresholds(self) -> dict[str, float] | None:
        path: KeyPath = ("thresholds",)
        table = self.table(self.data, "thresholds", ())
        self.unknown_keys(table, ("mql", "sql"), path)
        values: dict[str, float] = {}
        for key in ("mql", "sql"):
            value = self.get(table, key, (int, float), path, default=self.default_thresholds[key])
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
        return values

    def read_rules(self, value: Any, path: KeyPath) -> list[CommunicationRule]:
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
            try:
                rules.append(CommunicationRule(reach=Reach(reach), senders=frozenset(senders)))
            except ValidationError as exc:  # e.g. a NUL in a sender kind
                self.problem("invalid-value", exc.summary, (*where, "senders"))
        return rules

    def read_communication(self, stages: Mapping[str, Any]) -> CommunicationPolicy | None:
        if "communication" not in self.data:
            return DEFAULT_COMMUNICATION
        path: KeyPath = ("communication",)
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


def parse(text: str, format: Format = "toml", source: str | None = None) -> Any:
    """
    Parse *text* as TOML or JSON (no validation).

    Raises:
        DefinitionError: a ``syntax`` problem with its line.
        ValidationError: *format* is neither ``"toml"`` nor ``"json"``.
    """
    if not isinstance(text, str):
        raise ValidationError(
            f"a definition is text (str), got {type(text).__name__}", field="text"
        )
    check_format(format)
    if len(text) > MAX_DEFINITION_CHARS:
        problem = DefinitionProblem(
            "too-large",
            f"the definition has {len(text):,} characters; at most "
            f"{MAX_DEFINITION_CHARS:,} are read",
        )
        raise DefinitionError([problem], source=source)
    try:
        data = _parse(text, format, source)
    except (RecursionError, ValueError) as exc:
        if isinstance(exc, DefinitionError | ValidationError):
            raise
        kind = "too-deep" if isinstance(exc, RecursionError) else "syntax"
        problem = DefinitionProblem(
            kind,
            "the definition nests too deeply to read"
            if kind == "too-deep"
            else f"invalid {str(format).upper()}: a value cannot be read ({type(exc).__name__})",
        )
        raise DefinitionError([problem], source=source) from None
    if nesting_depth(data) > MAX_DEFINITION_DEPTH:
        problem = DefinitionProblem(
            "too-deep", f"the definition nests deeper than {MAX_DEFINITION_DEPTH} levels"
        )
        raise DefinitionError([problem], source=source)
    return data


#: Caps on what a definition file may hold (documented in the definition-file reference).
MAX_DEFINITION_CHARS = 2_000_000
MAX_DEFINITION_DEPTH = 16
MAX_STAGES = 5_000
MAX_TRANSITIONS = 50_000


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
        twice: list[Twice] = []
        try:
            data = json.loads(text, object_pairs_hook=pairs_hook(twice))
        except json.JSONDecodeError as exc:
            problem = DefinitionProblem(
                "syntax", f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno
            )
            raise DefinitionError([problem], source=source) from exc
        if twice:  # TOML refuses a repeated key as a syntax error; so does JSON here
            path = _path_of(data, twice[0])
            problem = DefinitionProblem(
                "duplicate-key",
                f"key {twice[0].twice!r} appears twice in one object",
                key=dotted(path),
                line=Locator(text, "json").line(path),
            )
            raise DefinitionError([problem], source=source)
        return data
    raise ValidationError(f"unknown format {shown(format)}; use 'toml' or 'json'", field="format")


def _path_of(data: object, target: Twice) -> KeyPath:
    """The key path of *target*'s repeated key in *data*."""
    todo: list[tuple[object, KeyPath]] = [(data, ())]
    while todo:
        node, path = todo.pop()
        if node is target:
            return (*path, target.twice)
        if isinstance(node, dict):
            todo.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((v, (*path, i)) for i, v in enumerate(node))
    return (target.twice,)  # pragma: no cover - target is in data


def read_data(
    data: Any,
    *,
    text: str | None = None,
    format: Format = "toml",
    source: str | None = None,
    default_thresholds: Mapping[str, float],
    conversion_guards: AbstractSet[tuple[str, bool]],
    guards: GuardRegistry = GUARDS,
) -> Definition:
    """
    Check parsed definition *data* and return it as a :class:`Definition`.

    *text* (the file's text) lets problems carry line numbers;
    *default_thresholds* fill in a missing ``[thresholds]`` key and
    *conversion_guards* are the guards every lead -> prospect edge needs;
    guard names are looked up in *guards* (default: the default registry).

    Raises:
        DefinitionError: every problem found, each with its key and, where
            known, its line; ``source`` is *source*.
    """
    if not isinstance(data, Mapping):
        raise DefinitionError(
            [DefinitionProblem("wrong-type", "the definition must be a table / JSON object")],
            source=source,
        )
    reader = Reader(
        data,
        Locator(text, format),
        default_thresholds=default_thresholds,
        conversion_guards=conversion_guards,
        guards=guards,
    )
    try:
        definition = reader.read()
    except ValidationError as exc:  # a record the reader builds refused a value it let through
        reader.problems.append(
            DefinitionProblem("invalid-value", exc.summary, key=exc.field or "")
        )
        definition = None
    if definition is None:
        raise DefinitionError(reader.problems, source=source)
    return definition
