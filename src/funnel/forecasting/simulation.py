"""
What-if simulation: a Markov chain of the funnel, estimated from history, run by Monte Carlo.

**The model.** :func:`estimate_chain` reads, for every lead, the stages it
entered and when. Each move from stage *s* to stage *t* is counted, giving
the transition probabilities ``P(s -> t) = n(s -> t) / n(s -> any)``, and
its duration (time between entering *s* and entering *t*) is kept. The time
spent in a stage therefore depends on where the lead goes next (a deal that
will be lost usually leaves sooner than one that will be won): it is a
*semi-Markov* chain. Durations are **empirical**: the simulation samples an
observed duration of that edge, uniformly with replacement, so no
distribution shape is assumed. Leads still open at the end of their history
contribute no exit (their last stay is censored; see
:attr:`MarkovChain.open_counts`). A stage that was never left is absorbing
in the simulation: leads there stay until the horizon.

**Monte Carlo.** :func:`simulate` starts a population (say 200 leads just
entering ``mql``) at time zero and walks every lead until it closes or the
horizon passes, ``runs`` times. Each run uses its own
``random.Random(f"{seed}:{run}")``, so the same seed gives identical results,
and every step draws exactly two numbers (the next stage, the duration).

**What-if.** :meth:`MarkovChain.with_conversion` multiplies one transition
probability (e.g. ``mql -> sql`` by 1.10) and rescales the stage's other
exits so they still sum to one. :func:`compare` runs the baseline and the
scenario with the **same** seeds (common random numbers), so the difference
between them reflects the change rather than luck.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeAlias

import attrs

from funnel._base.time import require_aware
from funnel.engine.funnel import DEFAULT_FUNNEL
from funnel.exceptions import SimulationError, ValidationError
from funnel.forecasting._validate import (
    check_collection,
    check_int,
    check_iterable,
    check_number,
    check_optional_mapping,
    check_timedelta,
    type_name,
)
from funnel.model.records import Lead, Prospect

#: One lead's stage history: (stage entered, when), oldest first.
StageHistory: TypeAlias = Sequence[tuple[str, datetime]]

DAY = 86400.0


def history_of(record: Lead | Prospect) -> tuple[tuple[str, datetime], ...]:
    """A record's stage history: its first stage at ``created_at``, then each change."""
    if not isinstance(record, Lead | Prospect):
        raise ValidationError(
            f"history_of() takes a Lead or Prospect, got {type_name(record)}", field="record"
        )
    if not record.history:
        return ((record.stage, record.created_at),)
    first = record.history[0]
    return (
        (first.from_stage, record.created_at),
        *((c.to_stage, c.at) for c in record.history),
    )


def _stage_name(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(
            f"{name} must be a stage name (str), got {type_name(value)}", field=name
        )
    return value


def quantile(values: Sequence[float], q: float) -> float:
    """
    The *q*-quantile of *values*, interpolating linearly between order statistics.

    >>> quantile([1, 2, 3, 4], 0.5)
    2.5
    """
    values = list(check_iterable(values, "values"))
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        raise ValidationError("quantile: values must be numbers", field="values")
    q = check_number(q, "q")
    if not values:
        raise SimulationError("quantile of an empty sample")
    if not 0 <= q <= 1:
        raise SimulationError(f"quantile level must lie in [0, 1], got {q}")
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@attrs.frozen(kw_only=True)
class MarkovChain:
    """
    Transition probabilities and durations between stages.

    Attributes:
        stages: Every stage seen, in first-seen (or declared) order.
        won_stages: Stages meaning won.
        lost_stages: Stages meaning lost.
        transitions: Source -> target -> probability (each row sums to 1).
        counts: Source -> target -> observed moves.
        durations: (source, target) -> observed durations in days, sorted.
        open_counts: Stage -> leads whose history ends there while open.
        rejected: (lead index or id, reason) for each history left out.
        arrival_rates: Stage -> new leads per day whose history starts there,
            over the span from the first to the last such start (empty when
            every history starts at the same moment). Pass it to
            :func:`simulate` as ``arrivals`` to add new leads during the horizon.
    """

    stages: tuple[str, ...]
    won_stages: frozenset[str]
    lost_stages: frozenset[str]
    transitions: Mapping[str, Mapping[str, float]]
    counts: Mapping[str, Mapping[str, int]]
    durations: Mapping[tuple[str, str], tuple[float, ...]]
    open_counts: Mapping[str, int] = MappingProxyType({})
    rejected: tuple[tuple[object, str], ...] = ()
    arrival_rates: Mapping[str, float] = MappingProxyType({})

    def __repr__(self) -> str:
        moves = sum(n for row in self.counts.values() for n in row.values())
        return (
            f"MarkovChain({len(self.stages)} stages, {moves} moves, "
            f"{sum(self.open_counts.values())} open, {len(self.rejected)} rejected)"
        )

    def _repr_html_(self) -> str:
        from funnel.forecasting._frames import html_table

        rows = [
            (s, t, str(self.counts[s][t]), f"{p:.3f}")
            for s, row in self.transitions.items()
            for t, p in row.items()
        ]
        return html_table(
            f"Markov chain: {len(self.stages)} stages, {len(self.rejected)} histories rejected",
            rows,
            ("from", "to", "moves", "probability"),
        )

    @property
    def finals(self) -> frozenset[str]:
        """Won and lost stages."""
        return self.won_stages | self.lost_stages

    def probability(self, source: str, target: str) -> float:
        """``P(source -> target)`` (0 when never observed)."""
        _stage_name(source, "source")
        _stage_name(target, "target")
        return self.transitions.get(source, {}).get(target, 0.0)

    def with_conversion(self, source: str, target: str, factor: float) -> MarkovChain:
        """
        A copy where ``P(source -> target)`` is multiplied by *factor* (capped at 1).

        The other exits of *source* are scaled by ``(1 - new) / (1 - old)`` so
        the row still sums to one; durations are unchanged.

        Raises:
            SimulationError: the transition was never observed, or *factor* < 0.
            ValidationError: a stage that is not a string, a factor that is no number.
        """
        _stage_name(source, "source")
        _stage_name(target, "target")
        factor = check_number(factor, "factor")
        if not factor >= 0:  # also refuses NaN
            raise SimulationError(f"factor must be >= 0, got {factor}", stage=source)
        row = self.transitions.get(source)
        if row is None or row.get(target, 0.0) == 0.0:
            raise SimulationError(
                f"no observed transition {source!r} -> {target!r} to change", stage=source
            )
        old = row[target]
        new = min(1.0, old * factor)
        rest = 1.0 - old
        scale = (1.0 - new) / rest if rest > 0 else 0.0
        changed = {t: (new if t == target else p * scale) for t, p in row.items()}
        transitions = {s: dict(r) for s, r in self.transitions.items()}
        transitions[source] = changed
        return attrs.evolve(
            self,
            transitions=MappingProxyType({s: MappingProxyType(r) for s, r in transitions.items()}),
        )

    def win_probability(self, stage: str) -> float:
        """
        The chance a lead in *stage* is eventually won, with no time limit.

        Solved exactly enough by iterating the chain to convergence.
        """
        _stage_name(stage, "stage")
        if stage in self.won_stages:
            return 1.0
        value = {s: (1.0 if s in self.won_stages else 0.0) for s in self.stages}
        for _ in range(10_000):
            delta = 0.0
            for s, row in self.transitions.items():
                if s in self.finals:
                    continue
                v = sum(p * value.get(t, 0.0) for t, p in row.items())
                delta = max(delta, abs(v - value.get(s, 0.0)))
                value[s] = v
            if delta < 1e-13:
                break
        return value.get(stage, 0.0)

    def rows(self) -> list[dict[str, object]]:
        """One dict per observed transition: probability, count, median days."""
        out: list[dict[str, object]] = []
        for source, row in self.transitions.items():
            for target, p in row.items():
                days = self.durations.get((source, target), ())
                out.append(
                    {
                        "source": source,
                        "target": target,
                        "probability": p,
                        "count": self.counts.get(source, {}).get(target, 0),
                        "median_days": quantile(days, 0.5) if days else None,
                    }
                )
        return out

    def to_frame(self, backend: str = "polars") -> Any:
        """:meth:`rows` as a polars (or pandas) frame."""
        rows = self.rows()
        names = ("source", "target", "probability", "count", "median_days")
        return _frame({n: [r[n] for r in rows] for n in names}, backend)


def _frame(columns: Mapping[str, Sequence[object]], backend: str) -> Any:
    from funnel.forecasting._frames import to_frame

    return to_frame(columns, backend)


def histories_from_replay(replay: Any) -> dict[str, tuple[tuple[str, datetime], ...]]:
    """
    Per-lead stage histories from a :class:`funnel.analytics.replay.Replay`.

    Each lead's history is its first stage (``replay.entered``) followed by
    every change (``replay.history(lead_id)``). The replay is read by duck
    typing, so this module imports no dataframe library.
    """
    out: dict[str, tuple[tuple[str, datetime], ...]] = {}
    undated: list[str] = []
    for lead_id, (stage, at, _row) in replay.entered.items():
        changes = replay.history(lead_id)
        visits = ((stage, at), *((c.to_stage, c.at) for c in changes))
        if any(when is None for _, when in visits):
            undated.append(str(lead_id))
            continue
        out[lead_id] = visits
    if undated:
        raise SimulationError(
            f"{len(undated)} lead(s) entered a stage at an unknown time (e.g. lead "
            f"{undated[0]!r}); a chain needs every time: date those rows (an assumption you "
            "state, e.g. fill each lead's missing time with its first known time) or leave "
            "those leads out of the log"
        )
    return out


def estimate_chain(
    histories: Iterable[StageHistory | Lead | Prospect] | Mapping[str, StageHistory],
    *,
    won_stages: Collection[str] | None = None,
    lost_stages: Collection[str] | None = None,
    stages: Sequence[str] = (),
) -> MarkovChain:
    """
    Estimate a :class:`MarkovChain` from per-lead stage histories.

    Args:
        histories: Per lead, the (stage, entered_at) pairs oldest first, or a
            funnel record (its ``history`` is used); or a mapping lead id ->
            pairs (e.g. from :func:`histories_from_replay`).
        won_stages: Stages meaning won (default: the default funnel's).
        lost_stages: Stages meaning lost (default: the default funnel's).
        stages: A stage order for the result (stages seen but not listed follow).

    A history whose times go backwards or that carries a naive datetime is
    left out and listed in :attr:`MarkovChain.rejected` with the reason;
    nothing is dropped silently. Staying in the same stage twice in a row is
    not a move.

    Raises:
        SimulationError: no move at all could be observed.

    >>> from datetime import datetime, timezone
    >>> d = lambda day: datetime(2026, 1, day, tzinfo=timezone.utc)
    >>> chain = estimate_chain([[("mql", d(1)), ("sql", d(3)), ("won", d(10))],
    ...                         [("mql", d(1)), ("lost", d(2))]],
    ...                        won_stages={"won"}, lost_stages={"lost"})
    >>> chain.probability("mql", "sql"), chain.durations[("sql", "won")]
    (0.5, (7.0,))
    """
    if not isinstance(histories, Mapping):
        check_iterable(histories, "histories")
    won_given = check_collection(won_stages, "won_stages")
    lost_given = check_collection(lost_stages, "lost_stages")
    won_set = DEFAULT_FUNNEL.won_stages if won_given is None else won_given
    lost_set = DEFAULT_FUNNEL.lost_stages if lost_given is None else lost_given
    order: dict[str, None] = dict.fromkeys(check_iterable(stages, "stages"))
    counts: dict[str, dict[str, int]] = {}
    durations: dict[tuple[str, str], list[float]] = {}
    open_counts: dict[str, int] = {}
    rejected: list[tuple[object, str]] = []
    starts: dict[str, int] = {}
    first_start: datetime | None = None
    last_start: datetime | None = None
    items: Iterable[tuple[object, StageHistory | Lead | Prospect]] = (
        histories.items() if isinstance(histories, Mapping) else enumerate(histories)
    )
    for index, item in items:
        if isinstance(item, Lead | Prospect):
            key: object = item.id
            visits: Sequence[tuple[str, datetime]] = history_of(item)
        else:
            key = index
            visits = item
            if isinstance(item, Iterable) and not isinstance(item, str | bytes | Mapping):
                visits = list(item)
        problem = _check_visits(visits)
        if problem:
            rejected.append((key, problem))
            continue
        for stage, _ in visits:
            order.setdefault(stage)
        entry, entered = visits[0]
        starts[entry] = starts.get(entry, 0) + 1
        first_start = entered if first_start is None else min(first_start, entered)
        last_start = entered if last_start is None else max(last_start, entered)
        for (s, t0), (t, t1) in itertools.pairwise(visits):
            if s == t:
                continue
            row = counts.setdefault(s, {})
            row[t] = row.get(t, 0) + 1
            durations.setdefault((s, t), []).append((t1 - t0).total_seconds() / DAY)
        last = visits[-1][0]
        if last not in won_set | lost_set:
            open_counts[last] = open_counts.get(last, 0) + 1
    if not counts:
        why = "; ".join(f"{key!r}: {reason}" for key, reason in rejected[:5])
        more = f" (and {len(rejected) - 5} more)" if len(rejected) > 5 else ""
        raise SimulationError(
            "no stage change in the histories: insufficient history"
            + (f"; {len(rejected)} rejected: {why}{more}" if rejected else "")
        )
    transitions = {
        s: MappingProxyType({t: n / sum(row.values()) for t, n in row.items()})
        for s, row in counts.items()
    }
    return MarkovChain(
        stages=tuple(order),
        won_stages=won_set,
        lost_stages=lost_set,
        transitions=MappingProxyType(transitions),
        counts=MappingProxyType({s: MappingProxyType(r) for s, r in counts.items()}),
        durations=MappingProxyType({k: tuple(sorted(v)) for k, v in durations.items()}),
        open_counts=MappingProxyType(open_counts),
        rejected=tuple(rejected),
        arrival_rates=MappingProxyType(_rates(starts, first_start, last_start)),
    )


def _rates(
    starts: Mapping[str, int], first: datetime | None, last: datetime | None
) -> dict[str, float]:
    """Starts per day over the observed span of starts (none when the span is empty)."""
    if first is None or last is None or last <= first:
        return {}
    days = (last - first).total_seconds() / DAY
    return {stage: n / days for stage, n in starts.items()}


def _check_visits(visits: object) -> str | None:
    if isinstance(visits, str | bytes | Mapping) or not isinstance(visits, Iterable):
        return f"a history must be a list of (stage, entered_at) pairs, got {type_name(visits)}"
    visits = list(visits)
    if not visits:
        return "empty history"
    previous: datetime | None = None
    for i, visit in enumerate(visits):
        if not isinstance(visit, tuple | list) or len(visit) != 2:
            return f"visit {i} must be a (stage, entered_at) pair, got {type_name(visit)}"
        stage, at = visit
        if not isinstance(stage, str) or not stage:
            return f"visit {i}: stage must be a non-empty string, got {type_name(stage)}"
        try:
            require_aware(at, f"visit {i} ({stage!r}) time")
        except (TypeError, ValueError) as exc:
            return str(exc)
        if previous is not None and at < previous:
            return (
                f"visit {i} ({stage!r}) at {at.isoformat()} is earlier than the previous "
                f"visit at {previous.isoformat()}"
            )
        previous = at
    return None


@attrs.frozen(kw_only=True)
class SimulationResult:
    """
    Distributions from a Monte Carlo run.

    Attributes:
        runs: How many runs.
        seed: The seed.
        horizon: How far each run looked.
        started: How many leads each run started with.
        won: Leads won within the horizon, per run (starting and arriving leads).
        lost: Leads lost within the horizon, per run.
        days_to_win: Days from entering the simulation (time zero, or the
            arrival) to winning, every win of every run.
        arrived: New leads that arrived during the horizon, per run (all zero
            without ``arrivals``).
    """

    runs: int
    seed: int
    horizon: timedelta
    started: int
    won: tuple[int, ...]
    lost: tuple[int, ...]
    days_to_win: tuple[float, ...]
    arrived: tuple[int, ...] = ()

    def __repr__(self) -> str:
        low, _, high = self.won_quantiles()
        return (
            f"SimulationResult({self.runs} runs, {self.horizon.days} days, {self.started} "
            f"started: {self.mean_won:.1f} won on average (5-95 %: {low:.0f}-{high:.0f}))"
        )

    def _repr_html_(self) -> str:
        from funnel.forecasting._frames import html_table

        low, mid, high = self.won_quantiles()
        rows = [("won", f"{self.mean_won:.1f}", f"{low:.0f}", f"{mid:.0f}", f"{high:.0f}")]
        if self.arrived:
            a_low, a_mid, a_high = (quantile(self.arrived, q) for q in (0.05, 0.5, 0.95))
            mean = sum(self.arrived) / len(self.arrived)
            rows.append(
                ("arrived", f"{mean:.1f}", f"{a_low:.0f}", f"{a_mid:.0f}", f"{a_high:.0f}")
            )
        return html_table(
            f"Simulation: {self.runs} runs over {self.horizon.days} days, {self.started} started",
            rows,
            ("quantity", "mean", "5 %", "median", "95 %"),
        )

    @property
    def mean_won(self) -> float:
        """Average number of wins per run."""
        return sum(self.won) / self.runs

    def won_quantiles(self, qs: Iterable[float] = (0.05, 0.5, 0.95)) -> tuple[float, ...]:
        """Quantiles of the number of wins per run."""
        return tuple(quantile(self.won, q) for q in qs)

    def days_to_win_quantiles(self, qs: Iterable[float] = (0.1, 0.5, 0.9)) -> tuple[float, ...]:
        """Quantiles of the days to win (over every simulated win)."""
        return tuple(quantile(self.days_to_win, q) for q in qs)

    def to_frame(self, backend: str = "polars") -> Any:
        """One row per run: ``run``, ``won``, ``lost``, ``arrived``."""
        arrived = self.arrived or (0,) * self.runs
        return _frame(
            {
                "run": list(range(self.runs)),
                "won": list(self.won),
                "lost": list(self.lost),
                "arrived": list(arrived),
            },
            backend,
        )


def _starting(starting: Mapping[str, int] | Iterable[str], chain: MarkovChain) -> list[str]:
    if isinstance(starting, Mapping):
        leads: list[str] = []
        for stage, n in starting.items():
            if not isinstance(n, int) or n < 0:
                raise SimulationError(f"starting[{stage!r}] must be a count >= 0, got {n!r}")
            leads.extend([stage] * n)
    else:
        leads = list(starting)
    for stage in leads:
        if stage not in chain.stages:
            raise SimulationError(
                f"starting stage {stage!r} is not in the chain {list(chain.stages)}", stage=stage
            )
    return leads


def simulate(
    chain: MarkovChain,
    *,
    starting: Mapping[str, int] | Iterable[str],
    horizon: timedelta,
    runs: int = 1000,
    seed: int = 0,
    arrivals: Mapping[str, float] | None = None,
) -> SimulationResult:
    """
    Run the chain *runs* times from *starting* for *horizon*.

    Args:
        chain: The estimated chain.
        starting: Stage -> number of leads, or one stage per lead. Every lead
            starts at time zero, just entering its stage.
        horizon: How far to look (e.g. ``timedelta(days=91)`` for a quarter).
        runs: Monte Carlo runs.
        seed: The seed; the same seed gives identical results.
        arrivals: Stage -> new leads per day entering it during the horizon
            (a Poisson process per stage), e.g. ``chain.arrival_rates``. Arrivals
            come from their own random stream, so :func:`compare` gives baseline
            and scenario the same arrivals.

    Raises:
        SimulationError: unknown starting or arrival stage, a negative rate, or runs < 1.
        ValidationError: a wrong-typed argument (naming it).
    """
    if not isinstance(chain, MarkovChain):
        raise ValidationError(
            f"chain must be a MarkovChain, got {type_name(chain)}", field="chain"
        )
    if not isinstance(starting, Mapping):
        check_iterable(starting, "starting")
    check_timedelta(horizon, "horizon")
    runs = check_int(runs, "runs")
    check_int(seed, "seed")
    check_optional_mapping(arrivals, "arrivals")
    if runs < 1:
        raise SimulationError(f"runs must be >= 1, got {runs}")
    if horizon <= timedelta(0):
        raise SimulationError(f"horizon must be positive, got {horizon}")
    limit = horizon.total_seconds() / DAY
    leads = _starting(starting, chain)
    rates = _arrival_rates(arrivals or {}, chain)
    finals = chain.finals
    targets: dict[str, tuple[str, ...]] = {}
    cumulative: dict[str, list[float]] = {}
    rank = {s: i for i, s in enumerate(chain.stages)}
    for source, row in chain.transitions.items():
        ordered = sorted(row, key=lambda t: rank.get(t, len(rank)))
        targets[source] = tuple(ordered)
        acc, cum = 0.0, []
        for t in ordered:
            acc += row[t]
            cum.append(acc)
        cum[-1] = 1.0
        cumulative[source] = cum
    durations = chain.durations
    won_runs: list[int] = []
    lost_runs: list[int] = []
    arrived_runs: list[int] = []
    days_to_win: list[float] = []
    for run in range(runs):
        rng = random.Random(f"{seed}:{run}")
        uniform = rng.random
        walkers = [(stage, 0.0) for stage in leads]
        if rates:
            arrival = random.Random(f"{seed}:{run}:arrivals")
            new = [(stage, at) for stage, rate in rates for at in _poisson(arrival, rate, limit)]
            arrived_runs.append(len(new))
            walkers.extend(new)
        else:
            arrived_runs.append(0)
        won = lost = 0
        for stage, start in walkers:
            left = limit - start
            elapsed = 0.0
            while stage not in finals and stage in targets:
                u, v = uniform(), uniform()
                i = bisect.bisect_right(cumulative[stage], u)
                nxt = targets[stage][min(i, len(targets[stage]) - 1)]
                sample = durations[(stage, nxt)]
                elapsed += sample[int(v * len(sample))]
                if elapsed > left:
                    break
                stage = nxt
            else:
                if stage in chain.won_stages:
                    won += 1
                    days_to_win.append(elapsed)
                elif stage in chain.lost_stages:
                    lost += 1
        won_runs.append(won)
        lost_runs.append(lost)
    return SimulationResult(
        runs=runs,
        seed=seed,
        horizon=horizon,
        started=len(leads),
        won=tuple(won_runs),
        lost=tuple(lost_runs),
        days_to_win=tuple(days_to_win),
        arrived=tuple(arrived_runs),
    )


def _arrival_rates(arrivals: Mapping[str, float], chain: MarkovChain) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for stage, rate in arrivals.items():
        if stage not in chain.stages:
            raise SimulationError(
                f"arrival stage {stage!r} is not in the chain {list(chain.stages)}", stage=stage
            )
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate >= 0:
            raise SimulationError(
                f"arrivals[{stage!r}] must be a rate >= 0 per day, got {rate!r}", stage=stage
            )
        if rate > 0:
            out.append((stage, float(rate)))
    return out


def _poisson(rng: random.Random, rate: float, limit: float) -> list[float]:
    """Arrival times (days) of a Poisson process of *rate* per day on ``[0, limit]``."""
    times: list[float] = []
    at = rng.expovariate(rate)
    while at <= limit:
        times.append(at)
        at += rng.expovariate(rate)
    return times


@attrs.frozen(kw_only=True)
class Comparison:
    """
    A baseline and a scenario simulated with the same random numbers.

    Attributes:
        baseline: The baseline result.
        scenario: The scenario result.
    """

    baseline: SimulationResult
    scenario: SimulationResult

    def __repr__(self) -> str:
        low, _, high = self.difference_quantiles()
        return (
            f"Comparison({self.baseline.runs} runs: {self.mean_difference:+.1f} wins on average "
            f"(5-95 %: {low:+.0f} to {high:+.0f}))"
        )

    def _repr_html_(self) -> str:
        from funnel.forecasting._frames import html_table

        low, _, high = self.difference_quantiles()
        rows = [
            ("baseline wins", f"{self.baseline.mean_won:.1f}"),
            ("scenario wins", f"{self.scenario.mean_won:.1f}"),
            ("difference", f"{self.mean_difference:+.1f} (5-95 %: {low:+.0f} to {high:+.0f})"),
        ]
        return html_table(f"What-if, {self.baseline.runs} runs", rows, ("quantity", "value"))

    def to_frame(self, backend: str = "polars") -> Any:
        """One row per run: ``run``, ``baseline_won``, ``scenario_won``, ``difference``."""
        return _frame(
            {
                "run": list(range(self.baseline.runs)),
                "baseline_won": list(self.baseline.won),
                "scenario_won": list(self.scenario.won),
                "difference": list(self.difference),
            },
            backend,
        )

    @property
    def difference(self) -> tuple[int, ...]:
        """Scenario wins minus baseline wins, run by run."""
        return tuple(s - b for s, b in zip(self.scenario.won, self.baseline.won, strict=True))

    @property
    def mean_difference(self) -> float:
        """The average extra wins per run."""
        return sum(self.difference) / len(self.difference)

    def difference_quantiles(self, qs: Iterable[float] = (0.05, 0.5, 0.95)) -> tuple[float, ...]:
        """Quantiles of the run-by-run difference."""
        diffs = [float(d) for d in self.difference]
        return tuple(quantile(diffs, q) for q in qs)


def compare(
    baseline: MarkovChain,
    scenario: MarkovChain,
    *,
    starting: Mapping[str, int] | Iterable[str],
    horizon: timedelta,
    runs: int = 1000,
    seed: int = 0,
    arrivals: Mapping[str, float] | None = None,
) -> Comparison:
    """Simulate *baseline* and *scenario* with the same seed (common random numbers)."""
    for name, chain in (("baseline", baseline), ("scenario", scenario)):
        if not isinstance(chain, MarkovChain):
            raise ValidationError(
                f"{name} must be a MarkovChain, got {type_name(chain)}", field=name
            )
    return Comparison(
        baseline=simulate(
            baseline, starting=starting, horizon=horizon, runs=runs, seed=seed, arrivals=arrivals
        ),
        scenario=simulate(
            scenario, starting=starting, horizon=horizon, runs=runs, seed=seed, arrivals=arrivals
        ),
    )
