"""
Time-aware stage probabilities: the chance a deal wins *within a horizon*, given its age in stage.

A stage probability that ignores time ("63 % of deals that reached Engaging were
won") values a deal that entered Engaging yesterday like one that has sat there
for a year, and says nothing about *when* it wins. This module estimates, per
stage, how deals leave it and when, with the deals still open counted as what
they are: **censored** (still there at the cut-off, outcome unknown).

**Spells.** Each lead's dated stage visits, up to the cut-off, give spells: the
stage, when the lead entered it, and either when it left and where to, or (the
last, still open) that it was still there at the cut-off. Undated rows (a
snapshot that does not say when a stage was entered) cannot be placed in time
and are not used; a lead with no dated row at or before the cut-off is not
known then.

**Estimator** (per stage, :class:`StageCurve`). The Aalen-Johansen estimator of
competing risks, the exits being the stage's targets (won, lost, or another open
stage), on the time since the lead entered the stage ("age"). At each distinct
exit age ``t`` with ``n(t)`` spells at risk and ``d_c(t)`` exits to ``c``:
``S(t) = S(t-) (1 - d(t) / n(t))`` (Kaplan-Meier survival in the stage) and
``F_c(t) = F_c(t-) + S(t-) d_c(t) / n(t)`` (cumulative incidence of ``c``). With
``observed_from`` (delayed entry, *left truncation*) a spell only counts as at
risk from the age it had at that moment: use it when the log records no exit
before some date although leads were in the stage before it (the deals that
closed earlier are missing, as in the Maven file).

**Period analysis** (``window=``, Brenner's period life table). Instead of
all history, fit on what happened inside a recent calendar window
``(cutoff - window, cutoff]``: every spell contributes only the part of its
time in the stage that lies inside the window (it enters the risk set at the
age it had at the window's start, left-truncated there, and leaves at its exit
or at the cut-off), and only exits inside the window count. The hazard at each
age is then the recent one, whatever cohort the deals came from: the remedy
for a closing rate that drifts in calendar time. It is left truncation at
``cutoff - window``.

**Win within a horizon** (:meth:`StageSurvival.win_probability`). For a deal in
stage *s* at age *a*, the chance it is won within *h* days is the incidence of
"won" in ``(a, a + h]`` divided by ``S(a)``, plus, for each exit to another open
stage *s'* at age *u*, that exit's incidence times the chance of winning from
*s'* (age 0) in the ``a + h - u`` days left. After the last exit ever observed
the stage has no hazard left, so a deal older than every observed exit
(:meth:`StageSurvival.stale_after`) gets 0: stale deals age out.

**Minimum-sample rule.** A conditional estimate at age *a* rests on the spells
still at risk at *a*. When fewer than ``min_samples`` are (and the deal is not
stale), the deal is valued
at the oldest age that still has ``min_samples`` at risk (its row says
``capped``); a stage with fewer than ``min_samples`` spells in all has no
estimate (:class:`~funnel.exceptions.InsufficientHistory`).

**Short outcome history** (:class:`OutcomeHistory`). A fit can only know the
outcomes (wins and losses) recorded before its cut-off. When the span from the
first recorded outcome to the cut-off (``outcome_days``) is shorter than the
horizon, the forecast carries the closes of that span over a longer stretch of
calendar it has never seen (a quarter-end month over a whole quarter, say); when
a stage holding open deals has fewer than ``min_samples`` closed deals that
passed through it, its estimate rests on few outcomes. Either makes the history
*short*: :meth:`StageSurvival.outcome_history` and :func:`outcome_history` say
so, and the forecasts built on them issue a :class:`~funnel.exceptions.ForecastWarning`
(:meth:`OutcomeHistory.warn`) and carry the fact in their results.

Weights (for a Bayesian bootstrap, see :mod:`funnel.forecasting.pipeline`) are
per lead: every spell of a lead gets its weight.
"""

from __future__ import annotations

import bisect
import itertools
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import attrs

from funnel.engine.funnel import DEFAULT_FUNNEL
from funnel.exceptions import (
    ForecastError,
    ForecastWarning,
    InsufficientHistory,
    ValidationError,
)
from funnel.forecasting._frames import to_frame
from funnel.forecasting._validate import (
    check_collection,
    check_datetime,
    check_histories,
    check_int,
    check_iterable,
    check_number,
    check_optional_datetime,
    check_optional_mapping,
    check_optional_timedelta,
    check_timedelta,
    type_name,
)

DAY = 86400.0
#: How deep a win can be looked for through moves to other open stages.
MAX_DEPTH = 8

#: A dated stage visit: (stage, entered at); ``None`` for an undated row.
Visit = tuple[str, datetime | None]


@attrs.frozen
class Spell:
    """
    One stay of one lead in one open stage, as known at a cut-off.

    Attributes:
        lead: The lead's id.
        stage: The stage.
        entered: When the lead entered it.
        age: Days from entering to leaving, or to the cut-off while still there.
        target: The stage it went to next; ``None`` while still there (censored).
    """

    lead: str
    stage: str
    entered: datetime
    age: float
    target: str | None


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / DAY


def dated_visits(visits: Iterable[Visit], cutoff: datetime | None) -> list[tuple[str, datetime]]:
    """
    The dated visits at or before *cutoff* (all when ``None``), oldest first, ties kept.

    Raises:
        ValidationError: *visits* is not a list of (stage, datetime or None) pairs,
            or *cutoff* is not an aware datetime.
    """
    given: object = visits
    if isinstance(given, str | bytes) or not isinstance(given, Iterable):
        raise ValidationError(
            f"visits must be a list of (stage, entered_at) pairs, got {type_name(given)}",
            field="visits",
        )
    visits = list(given)
    check_histories({"": visits}, "visits")
    return _dated(visits, check_optional_datetime(cutoff, "cutoff"))


def _dated(visits: Iterable[Visit], cutoff: datetime | None) -> list[tuple[str, datetime]]:
    """:func:`dated_visits` without the argument checks (for checked histories)."""
    kept = [(s, at) for s, at in visits if at is not None and (cutoff is None or at <= cutoff)]
    kept.sort(key=lambda v: v[1])
    out: list[tuple[str, datetime]] = []
    for stage, at in kept:
        if out and out[-1][0] == stage:
            continue
        out.append((stage, at))
    return out


def spells_at(
    histories: Mapping[str, Sequence[Visit]],
    cutoff: datetime,
    *,
    finals: Collection[str],
) -> list[Spell]:
    """
    Every spell in an open stage known at *cutoff* (see the module docs).

    Raises:
        ValidationError: *cutoff* or a visit time is naive, a wrong-typed argument.
    """
    cutoff = check_datetime(cutoff, "cutoff")
    check_histories(histories)
    finals = check_collection(finals, "finals") or frozenset()
    spells: list[Spell] = []
    for lead, visits in histories.items():
        dated = _dated(visits, cutoff)
        for (s, t0), (t, t1) in itertools.pairwise(dated):
            if s not in finals:
                spells.append(Spell(str(lead), s, t0, _days(t1 - t0), t))
        if dated and dated[-1][0] not in finals:
            s, t0 = dated[-1]
            spells.append(Spell(str(lead), s, t0, _days(cutoff - t0), None))
    return spells


@attrs.frozen(kw_only=True)
class StageCurve:
    """
    The Aalen-Johansen estimate of how deals leave one stage.

    Attributes:
        stage: The stage.
        times: The distinct exit ages (days), ascending.
        at_risk: Weighted spells at risk at each exit age.
        exits: At each exit age, target stage -> weighted exits.
        survival: ``S(t)``, the chance of still being in the stage just after each age.
        spells: Spells in the stage (open ones included).
        entries: Sorted entry ages of the spells (0, or the age at ``observed_from``).
        ends: Sorted exit or censoring ages of the spells.
        entry_weights: Cumulative weights along ``entries``.
        end_weights: Cumulative weights along ``ends``.
        breaks: The ages where the risk set changes (entries and ends), ascending.
    """

    stage: str
    times: tuple[float, ...]
    at_risk: tuple[float, ...]
    exits: tuple[Mapping[str, float], ...]
    survival: tuple[float, ...]
    spells: int
    entries: tuple[float, ...] = attrs.field(repr=False)
    ends: tuple[float, ...] = attrs.field(repr=False)
    entry_weights: tuple[float, ...] = attrs.field(repr=False)
    end_weights: tuple[float, ...] = attrs.field(repr=False)
    breaks: tuple[float, ...] = attrs.field(repr=False, default=())

    def __repr__(self) -> str:
        last = "none" if self.last_exit is None else f"{self.last_exit:g} days"
        return (
            f"StageCurve(stage={self.stage!r}, {self.spells} spells, "
            f"{len(self.times)} exit ages, last exit {last})"
        )

    def survival_at(self, age: float) -> float:
        """``S(age)``: still in the stage just after *age* (1 before the first exit)."""
        j = bisect.bisect_right(self.times, age)
        return 1.0 if j == 0 else self.survival[j - 1]

    def risk_set(self, age: float) -> float:
        """Weighted spells at risk just after *age* (entered by then, not yet left)."""
        i = bisect.bisect_right(self.entries, age)
        k = bisect.bisect_right(self.ends, age)
        entered = self.entry_weights[i - 1] if i else 0.0
        ended = self.end_weights[k - 1] if k else 0.0
        return entered - ended

    @property
    def last_exit(self) -> float | None:
        """The oldest age at which a deal was ever seen leaving (``None``: never)."""
        return self.times[-1] if self.times else None

    def incidence(self, target: str, start: float, end: float) -> float:
        """The unconditional incidence of exits to *target* in ``(start, end]``."""
        lo = bisect.bisect_right(self.times, start)
        hi = bisect.bisect_right(self.times, end)
        total = 0.0
        previous = 1.0 if lo == 0 else self.survival[lo - 1]
        for j in range(lo, hi):
            d = self.exits[j].get(target, 0.0)
            if d:
                total += previous * d / self.at_risk[j]
            previous = self.survival[j]
        return total


def fit_curve(
    stage: str,
    spells: Sequence[Spell],
    *,
    observed_from: datetime | None = None,
    weights: Mapping[str, float] | None = None,
) -> StageCurve:
    """
    The :class:`StageCurve` of *stage* from its *spells* (others are ignored).

    A spell that ended before *observed_from* is outside the observed window
    and is left out; one that started before it enters the risk set at the
    age it had then. *weights* (lead -> weight, default 1) weigh each lead.
    """
    rows: list[tuple[float, float, str | None, float]] = []
    for sp in spells:
        if sp.stage != stage:
            continue
        w = 1.0 if weights is None else weights.get(sp.lead, 0.0)
        if w <= 0.0:
            continue
        entry = 0.0
        if observed_from is not None and sp.entered < observed_from:
            # an exit at the very start of the window is observed: enter just before it
            entry = _days(observed_from - sp.entered) - 1e-9
            if sp.age < entry:
                continue
        rows.append((entry, sp.age, sp.target, w))
    by_entry = sorted((r[0], r[3]) for r in rows)
    by_end = sorted((r[1], r[3]) for r in rows)
    entries = tuple(e for e, _ in by_entry)
    ends = tuple(e for e, _ in by_end)
    entry_weights = tuple(itertools.accumulate(w for _, w in by_entry))
    end_weights = tuple(itertools.accumulate(w for _, w in by_end))
    events: dict[float, dict[str, float]] = {}
    for _, age, target, w in rows:
        if target is not None:
            slot = events.setdefault(age, {})
            slot[target] = slot.get(target, 0.0) + w
    times = tuple(sorted(events))
    at_risk: list[float] = []
    survival: list[float] = []
    s = 1.0
    for t in times:
        # at risk at t: entered strictly before t, and not ended before t
        i = bisect.bisect_left(entries, t)
        k = bisect.bisect_left(ends, t)
        n = (entry_weights[i - 1] if i else 0.0) - (end_weights[k - 1] if k else 0.0)
        d = sum(events[t].values())
        n = max(n, d)
        at_risk.append(n)
        s *= 1.0 - d / n
        survival.append(max(s, 0.0))
    return StageCurve(
        stage=stage,
        times=times,
        at_risk=tuple(at_risk),
        exits=tuple(MappingProxyType(events[t]) for t in times),
        survival=tuple(survival),
        spells=len(rows),
        entries=entries,
        ends=ends,
        entry_weights=entry_weights,
        end_weights=end_weights,
        breaks=tuple(sorted({0.0, *entries, *ends})),
    )


@attrs.frozen(kw_only=True)
class OutcomeHistory:
    """
    How much outcome history a forecast rests on, against its horizon (see the module docs).

    Attributes:
        cutoff: When the forecast is made.
        horizon_days: Its horizon, in days.
        first_outcome: The first exit from an open stage to a won or lost one known
            at the cut-off (``None``: none).
        closes: Per stage the forecast rests on, the closed (won or lost) deals
            known at the cut-off that passed through it.
        min_closes: The floor of closes per stage (the fit's ``min_samples``).
    """

    cutoff: datetime
    horizon_days: float
    first_outcome: datetime | None
    closes: Mapping[str, int] = attrs.field(factory=dict)
    min_closes: int = 30

    def __repr__(self) -> str:
        flag = "short" if self.short else "enough"
        return (
            f"OutcomeHistory(cutoff={self.cutoff:%Y-%m-%d}, {self.outcome_days:.1f} days of "
            f"outcomes for a {self.horizon_days:g}-day horizon: {flag})"
        )

    @property
    def outcome_days(self) -> float:
        """Days from the first recorded outcome to the cut-off (0 without any)."""
        if self.first_outcome is None:
            return 0.0
        return max(0.0, _days(self.cutoff - self.first_outcome))

    @property
    def short_span(self) -> bool:
        """Whether the outcomes span less than the horizon."""
        return self.outcome_days < self.horizon_days

    @property
    def thin_stages(self) -> tuple[str, ...]:
        """The stages with fewer than ``min_closes`` closed deals."""
        return tuple(s for s, n in self.closes.items() if n < self.min_closes)

    @property
    def short(self) -> bool:
        """Whether the forecast extrapolates beyond its outcome history (span or closes)."""
        return self.short_span or bool(self.thin_stages)

    @property
    def discount(self) -> float:
        """
        ``outcome_days / horizon_days``, capped at 1 and floored at one day of outcomes:
        the share of the horizon's calendar the recorded outcomes cover.
        """
        if self.horizon_days <= 0:
            return 1.0
        return min(1.0, max(self.outcome_days, 1.0) / self.horizon_days)

    def message(self) -> str:
        """What is short, in words (empty when nothing is)."""
        parts: list[str] = []
        if self.short_span:
            since = (
                "no won or lost deal is recorded"
                if self.first_outcome is None
                else f"outcomes (wins and losses) are recorded over {self.outcome_days:.1f} "
                f"day(s), from {self.first_outcome:%Y-%m-%d}"
            )
            parts.append(f"{since}, less than the {self.horizon_days:g}-day horizon")
        for stage in self.thin_stages:
            parts.append(
                f"stage {stage!r} has {self.closes[stage]} closed deal(s), "
                f"fewer than {self.min_closes}"
            )
        if not parts:
            return ""
        return (
            f"the forecast at {self.cutoff:%Y-%m-%d} extrapolates beyond its outcome history: "
            + "; ".join(parts)
        )

    def warn(self, stacklevel: int = 2) -> None:
        """Issue :meth:`message` as a :class:`~funnel.exceptions.ForecastWarning` when short."""
        if self.short:
            warning = ForecastWarning(
                self.message(),
                cutoff=self.cutoff,
                outcome_days=self.outcome_days,
                horizon_days=self.horizon_days,
                thin_stages=self.thin_stages,
            )
            warnings.warn(warning, stacklevel=stacklevel + 1)


def _closes(
    spells: Iterable[Spell], finals: Collection[str]
) -> tuple[datetime | None, dict[str, int]]:
    """The first exit to a final stage among *spells*, and per stage the closed leads in it."""
    spells = list(spells)
    first: datetime | None = None
    closed: set[str] = set()
    for sp in spells:
        if sp.target in finals:
            closed.add(sp.lead)
            at = sp.entered + timedelta(days=sp.age)
            first = at if first is None or at < first else first
    pairs = {(sp.stage, sp.lead) for sp in spells if sp.lead in closed}
    counts: dict[str, int] = {}
    for stage, _ in pairs:
        counts[stage] = counts.get(stage, 0) + 1
    for sp in spells:
        counts.setdefault(sp.stage, 0)
    return first, counts


def outcome_history(
    histories: Mapping[str, Sequence[Visit]],
    *,
    cutoff: datetime,
    horizon: timedelta,
    won_stages: Collection[str] | None = None,
    lost_stages: Collection[str] | None = None,
    min_closes: int = 30,
    stages: Iterable[str] | None = None,
) -> OutcomeHistory:
    """
    The :class:`OutcomeHistory` of *histories* at *cutoff* for *horizon* (see the module docs).

    Args:
        histories: Lead id -> (stage, entered_at) visits; only what is dated at
            or before *cutoff* counts.
        cutoff: When the forecast is made.
        horizon: How far ahead it looks.
        won_stages: Stages meaning won (default: the default funnel's).
        lost_stages: Stages meaning lost (default: the default funnel's).
        min_closes: The floor of closed deals per stage.
        stages: The stages the forecast rests on (default: every open stage seen).

    Raises:
        ValidationError: a wrong-typed argument, a naive time.

    >>> from datetime import datetime, timedelta, timezone
    >>> d = lambda n: datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=n)
    >>> h = {f"D{i}": [("sql", d(i)), ("won", d(i + 40))] for i in range(40)}
    >>> got = outcome_history(h, cutoff=d(70), horizon=timedelta(days=90),
    ...                       won_stages={"won"}, lost_stages={"lost"})
    >>> got.outcome_days, dict(got.closes), got.short, round(got.discount, 3)
    (30.0, {'sql': 31}, True, 0.333)
    """
    cutoff = check_datetime(cutoff, "cutoff")
    horizon = check_timedelta(horizon, "horizon")
    won_set = check_collection(won_stages, "won_stages")
    lost_set = check_collection(lost_stages, "lost_stages")
    won_set = DEFAULT_FUNNEL.won_stages if won_set is None else won_set
    lost_set = DEFAULT_FUNNEL.lost_stages if lost_set is None else lost_set
    min_closes = check_int(min_closes, "min_closes", minimum=0)
    wanted = None if stages is None else list(check_iterable(stages, "stages"))
    finals = won_set | lost_set
    first, counts = _closes(spells_at(histories, cutoff, finals=finals), finals)
    if wanted is not None:
        counts = {s: counts.get(s, 0) for s in dict.fromkeys(wanted) if s not in finals}
    return OutcomeHistory(
        cutoff=cutoff,
        horizon_days=_days(horizon),
        first_outcome=first,
        closes=MappingProxyType(counts),
        min_closes=min_closes,
    )


@attrs.frozen
class WinEstimate:
    """
    The chance one deal wins within the horizon, and what it rests on.

    Attributes:
        stage: Its stage.
        age: Its age in the stage (days).
        probability: The chance of winning within the horizon.
        at_risk: History spells at risk at the age used.
        used_age: The age the estimate was read at (the oldest supported one
            when the deal's own age has fewer than ``min_samples`` at risk).
        capped: Whether ``used_age < age`` (the minimum-sample rule applied).
        stale: Whether the deal is older than every exit ever observed from its stage.
    """

    stage: str
    age: float
    probability: float
    at_risk: float
    used_age: float
    capped: bool
    stale: bool


@attrs.frozen(kw_only=True)
class StageSurvival:
    """
    Per-stage exit curves: time-aware probabilities of winning within a horizon.

    Build it with :func:`stage_survival`.

    Attributes:
        curves: Stage -> :class:`StageCurve` (open stages only).
        won_stages: Stages meaning won.
        lost_stages: Stages meaning lost.
        min_samples: The sample floor of the minimum-sample rule.
        observed_from: The start of the observed window (left truncation), if any.
        cutoff: The cut-off it was fitted at.
        first_outcome: The first exit to a won or lost stage known then (``None``: none).
        closes: Per open stage, the closed (won or lost) leads known then that passed
            through it (all of history, whatever the window).
    """

    curves: Mapping[str, StageCurve]
    won_stages: frozenset[str]
    lost_stages: frozenset[str]
    min_samples: int
    observed_from: datetime | None = None
    cutoff: datetime | None = None
    first_outcome: datetime | None = None
    closes: Mapping[str, int] = attrs.field(factory=dict, repr=False)

    def __repr__(self) -> str:
        stages = ", ".join(f"{s} ({c.spells} spells)" for s, c in self.curves.items())
        return f"StageSurvival({stages or 'no stage'}; min_samples={self.min_samples})"

    def _repr_html_(self) -> str:
        from funnel.forecasting._frames import html_table

        rows = [
            (
                s,
                str(c.spells),
                str(len(c.times)),
                "" if c.last_exit is None else f"{c.last_exit:g}",
            )
            for s, c in self.curves.items()
        ]
        return html_table(
            f"Stage exit curves (min_samples={self.min_samples})",
            rows,
            ("stage", "spells", "exit ages", "last exit (days)"),
        )

    def to_frame(self, backend: str = "polars") -> Any:
        """
        The curves as a frame: per stage and exit age, ``at_risk``, ``exits``
        (all targets), ``survival`` and, per target, ``exits_<target>``.
        """
        targets = sorted({t for c in self.curves.values() for e in c.exits for t in e})
        cols: dict[str, list[object]] = {
            "stage": [],
            "age_days": [],
            "at_risk": [],
            "exits": [],
            "survival": [],
        }
        cols |= {f"exits_{t}": [] for t in targets}
        for stage, curve in self.curves.items():
            for t, n, e, s in zip(
                curve.times, curve.at_risk, curve.exits, curve.survival, strict=True
            ):
                cols["stage"].append(stage)
                cols["age_days"].append(t)
                cols["at_risk"].append(n)
                cols["exits"].append(sum(e.values()))
                cols["survival"].append(s)
                for target in targets:
                    cols[f"exits_{target}"].append(e.get(target, 0.0))
        return to_frame(cols, backend)

    @property
    def finals(self) -> frozenset[str]:
        """Won and lost stages."""
        return self.won_stages | self.lost_stages

    def outcome_history(
        self, horizon: timedelta, *, stages: Iterable[str] | None = None
    ) -> OutcomeHistory:
        """
        How much outcome history this fit has for *horizon* (:class:`OutcomeHistory`).

        *stages*: the stages the forecast rests on (default: every fitted stage).

        Raises:
            ValidationError: a wrong-typed argument, or a fit made without a cut-off.
        """
        horizon = check_timedelta(horizon, "horizon")
        if self.cutoff is None:
            raise ValidationError(
                "this StageSurvival was built without a cut-off: fit it with stage_survival()",
                field="cutoff",
            )
        wanted = self.curves if stages is None else check_iterable(stages, "stages")
        return OutcomeHistory(
            cutoff=self.cutoff,
            horizon_days=_days(horizon),
            first_outcome=self.first_outcome,
            closes=MappingProxyType(
                {s: self.closes.get(s, 0) for s in dict.fromkeys(wanted) if s not in self.finals}
            ),
            min_closes=self.min_samples,
        )

    def stale_after(self, stage: str) -> float | None:
        """The age (days) after which no deal was ever seen leaving *stage*."""
        curve = self.curves.get(stage)
        return None if curve is None else curve.last_exit

    def _curve(self, stage: str, record: str | None) -> StageCurve:
        curve = self.curves.get(stage)
        if curve is None or curve.spells < self.min_samples:
            raise InsufficientHistory(
                stage, 0 if curve is None else curve.spells, self.min_samples, record
            )
        return curve

    def _supported(self, curve: StageCurve, age: float) -> float:
        """The oldest age <= *age* with at least ``min_samples`` spells at risk."""
        if curve.risk_set(age) >= self.min_samples:
            return age
        j = bisect.bisect_right(curve.breaks, age)
        for x in reversed(curve.breaks[:j]):
            if curve.risk_set(x) >= self.min_samples:
                return x
        return 0.0

    def _win(
        self, stage: str, age: float, days: float, depth: int, memo: dict[Any, float]
    ) -> float:
        if stage in self.won_stages:
            return 1.0
        if stage in self.lost_stages or days <= 0 or depth > MAX_DEPTH:
            return 0.0
        key = (stage, age, days)
        if key in memo:
            return memo[key]
        curve = self.curves.get(stage)
        if curve is None:
            memo[key] = 0.0
            return 0.0
        s_a = curve.survival_at(age)
        if s_a <= 0.0:
            memo[key] = 0.0
            return 0.0
        lo = bisect.bisect_right(curve.times, age)
        hi = bisect.bisect_right(curve.times, age + days)
        total = 0.0
        previous = s_a
        for j in range(lo, hi):
            t = curve.times[j]
            n = curve.at_risk[j]
            for target, d in curve.exits[j].items():
                share = previous * d / n
                if target in self.won_stages:
                    total += share
                elif target not in self.lost_stages:
                    total += share * self._win(target, 0.0, age + days - t, depth + 1, memo)
            previous = curve.survival[j]
        value = total / s_a
        memo[key] = value
        return value

    def estimate(
        self, stage: str, age: float, horizon: timedelta, *, record: str | None = None
    ) -> WinEstimate:
        """
        The chance a deal in *stage*, *age* days old there, wins within *horizon*.

        Raises:
            InsufficientHistory: the stage has fewer than ``min_samples`` spells.
            ForecastError: a negative age or a horizon that is not positive.
            ValidationError: a wrong-typed argument.
        """
        _check_estimate(stage, age, horizon)
        if stage in self.finals:
            p = 1.0 if stage in self.won_stages else 0.0
            return WinEstimate(stage, age, p, 0.0, age, False, False)
        if not age >= 0:
            raise ForecastError(f"age must be >= 0 days, got {age!r}", record=record, field="age")
        if horizon <= timedelta(0):
            raise ForecastError(f"horizon must be positive, got {horizon}", field="horizon")
        curve = self._curve(stage, record)
        last = curve.last_exit
        if last is None or age > last:
            # stale: no deal was ever seen leaving the stage this late
            return WinEstimate(stage, age, 0.0, curve.risk_set(age), age, False, True)
        used = self._supported(curve, age)
        p = self._win(stage, used, _days(horizon), 0, {})
        return WinEstimate(
            stage, age, min(max(p, 0.0), 1.0), curve.risk_set(used), used, used < age, False
        )

    def win_probability(
        self, stage: str, age: float, horizon: timedelta, *, record: str | None = None
    ) -> float:
        """:meth:`estimate`'s probability alone."""
        return self.estimate(stage, age, horizon, record=record).probability

    def table(
        self,
        horizon: timedelta,
        *,
        ages: Sequence[float] = (0, 7, 14, 30, 60, 90, 120, 180, 365),
        backend: str = "polars",
    ) -> Any:
        """
        A frame: per stage and age, the chance of winning within *horizon*.

        Columns ``stage``, ``age_days``, ``win_probability``, ``at_risk``,
        ``capped``, ``stale``. Stages below the floor are left out.
        """
        check_timedelta(horizon, "horizon")
        ages = [check_number(a, "ages") for a in check_iterable(ages, "ages")]
        rows: list[WinEstimate] = []
        for stage, curve in self.curves.items():
            if curve.spells < self.min_samples:
                continue
            rows.extend(self.estimate(stage, float(a), horizon) for a in ages)
        return to_frame(
            {
                "stage": [r.stage for r in rows],
                "age_days": [r.age for r in rows],
                "win_probability": [r.probability for r in rows],
                "at_risk": [r.at_risk for r in rows],
                "capped": [r.capped for r in rows],
                "stale": [r.stale for r in rows],
            },
            backend,
        )


def _check_estimate(stage: object, age: object, horizon: object) -> None:
    """The arguments of an ``estimate``: a stage name, a number of days, a timedelta."""
    if not isinstance(stage, str):
        raise ValidationError(f"stage must be a str, got {type_name(stage)}", field="stage")
    check_number(age, "age")
    check_timedelta(horizon, "horizon")


def first_outcome(histories: Mapping[str, Sequence[Visit]], finals: Collection[str]) -> datetime:
    """
    The time of the first won or lost row in *histories*.

    Raises:
        ForecastError: no lead ever closed.
        ValidationError: a wrong-typed argument.
    """
    check_histories(histories)
    finals = check_collection(finals, "finals") or frozenset()
    times = [at for visits in histories.values() for s, at in visits if s in finals and at]
    if not times:
        raise ForecastError("no won or lost row: cannot date the first outcome")
    return min(times)


def stage_survival(
    histories: Mapping[str, Sequence[Visit]],
    *,
    cutoff: datetime,
    won_stages: Collection[str] | None = None,
    lost_stages: Collection[str] | None = None,
    min_samples: int = 30,
    observed_from: datetime | None = None,
    window: timedelta | None = None,
    weights: Mapping[str, float] | None = None,
    spells: Sequence[Spell] | None = None,
) -> StageSurvival:
    """
    Fit the exit curves of every open stage on what was known at *cutoff*.

    Args:
        histories: Lead id -> its (stage, entered_at) visits; an undated
            visit (``None``) is not used. Visits after *cutoff* are ignored,
            so the same histories serve every cut-off of a back-test.
        cutoff: The moment the forecast is made (aware).
        won_stages: Stages meaning won (default: the default funnel's).
        lost_stages: Stages meaning lost (default: the default funnel's).
        min_samples: The floor of the minimum-sample rule.
        observed_from: Left truncation: exits before it were not recorded.
        window: Period analysis: fit on the exposure and exits inside the
            last *window* before *cutoff* only (every spell counts from the age
            it had at the window's start; see the module docs). With
            *observed_from* too, the later of the two starts is used.
        weights: Lead -> weight (a bootstrap draw); default 1 each.
        spells: The spells of *histories* at *cutoff* (:func:`spells_at`), when
            already computed (refitting many weighted draws).

    Raises:
        ValidationError: *cutoff*, *observed_from* or a visit time is naive.
        ForecastError: a *window* that is not positive.
        ValidationError: a wrong-typed argument (naming it).

    >>> from datetime import datetime, timedelta, timezone
    >>> d = lambda n: datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=n)
    >>> h = {f"W{i}": [("sql", d(i)), ("won", d(i + 10))] for i in range(30)}
    >>> h |= {f"L{i}": [("sql", d(i)), ("lost", d(i + 5))] for i in range(30)}
    >>> h |= {f"O{i}": [("sql", d(i))] for i in range(40)}      # still open at the cut-off
    >>> fit = stage_survival(h, cutoff=d(60), won_stages={"won"}, lost_stages={"lost"})
    >>> # at 5 days 30 of 100 are lost (S = 0.7); at 10 days 30 of the 70 left are won
    >>> round(fit.win_probability("sql", 0, timedelta(days=30)), 3)
    0.3
    >>> round(fit.win_probability("sql", 7, timedelta(days=30)), 3)   # past the losses: 0.3 / 0.7
    0.429
    >>> fit.estimate("sql", 40, timedelta(days=30)).stale     # older than every exit
    True
    """
    cutoff = check_datetime(cutoff, "cutoff")
    check_histories(histories)
    won_set = check_collection(won_stages, "won_stages")
    lost_set = check_collection(lost_stages, "lost_stages")
    won_set = DEFAULT_FUNNEL.won_stages if won_set is None else won_set
    lost_set = DEFAULT_FUNNEL.lost_stages if lost_set is None else lost_set
    min_samples = check_int(min_samples, "min_samples", minimum=0)
    observed_from = check_optional_datetime(observed_from, "observed_from")
    window = check_optional_timedelta(window, "window")
    check_optional_mapping(weights, "weights")
    if window is not None:
        if window <= timedelta(0):
            raise ForecastError(f"window must be positive, got {window}", field="window")
        start = cutoff - window
        observed_from = start if observed_from is None else max(observed_from, start)
    if spells is None:
        spells = spells_at(histories, cutoff, finals=won_set | lost_set)
    stages = dict.fromkeys(sp.stage for sp in spells)
    curves = {
        s: fit_curve(s, spells, observed_from=observed_from, weights=weights) for s in stages
    }
    first, closes = _closes(spells, won_set | lost_set)
    return StageSurvival(
        curves=MappingProxyType(curves),
        won_stages=won_set,
        lost_stages=lost_set,
        min_samples=min_samples,
        observed_from=observed_from,
        cutoff=cutoff,
        first_outcome=first,
        closes=MappingProxyType(closes),
    )
