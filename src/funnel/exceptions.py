"""
Every error funnel raises derives from :class:`FunnelError`.

The tree is shallow on purpose: catch ``FunnelError`` to catch everything,
or one of the families below to handle one kind of failure.

* :class:`TransitionError` – a record could not move (illegal event, guard
  refused, time going backwards).
* :class:`DefinitionError` – a funnel definition is invalid.
* :class:`CommunicationRefused` – a planned touch breaks the communication rules.
* :class:`LoadError` – an input file or frame could not be read at all.
* :class:`SerializationError` – JSON could not be turned back into records.
* :class:`PersistenceError` – storage refused a write (e.g. a stale version).
* :class:`HookError`, :class:`HookVetoed`, :class:`GuardError` – your hooks or
  guards failed, or a hook refused a change.
* :class:`ScoringError`, :class:`PredictiveError`, :class:`ForecastError`,
  :class:`SimulationError` – the forecasting layer could not work with its input.

Every exception class funnel raises is defined in this module.

Errors that concern one record carry it as ``.record``; none of them changes
the record they were raised for. Every error has a one-line :attr:`FunnelError.summary`
and a :meth:`FunnelError.to_dict` (an RFC 9457 problem-details body, for APIs and logs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

from funnel._base.privacy import is_name


def describe(error: BaseException) -> str:
    """
    How funnel's messages and logs name an error raised by your code: by its type.

    Your hook's message may hold personal data, so only funnel's own errors (whose
    messages never do) are shown with their summary.

    >>> describe(RuntimeError("could not mail ada@acme.example"))
    'RuntimeError'
    >>> describe(ValidationError("at must be a datetime"))
    'ValidationError: at must be a datetime'
    """
    if isinstance(error, FunnelError):
        return f"{type(error).__name__}: {error.summary}"
    return type(error).__name__


def _safe(text: object) -> str:
    """*text* as messages hold it: e-mail addresses and phone numbers masked, controls escaped."""
    return _masked_message(str(text))


def _hider(record: object) -> Callable[[str], str]:
    """
    What masks a record's own personal values in a reason about it.

    A reason may quote a note ("called Ada on ..."): the contact's name, title,
    e-mail and phone (and a prospect's stakeholder's) are masked in it, and so is any
    e-mail address or phone number. Anything that is not a record masks nothing more.
    """
    from funnel._base.markup import Redactor  # imports funnel._base.privacy, as this module does

    return Redactor.of(record)


def _record_id(record: object) -> str | None:
    """The id of a record-like object (never its contact data), or the string itself."""
    if record is None:
        return None
    if isinstance(record, str):
        return record
    rid = getattr(record, "id", None)
    return rid if isinstance(rid, str) else None


def _masked_message(text: str) -> str:
    """*text* with e-mail addresses and phone numbers masked and controls escaped."""
    from funnel._base.markup import mask_line  # imports funnel._base.privacy, as this module does

    return mask_line(text)


class FunnelError(Exception):
    """
    Base class of every exception raised by funnel.

    >>> err = FunnelError("something went wrong\\n  - first detail")
    >>> err.summary
    'something went wrong'
    >>> err.to_dict()["title"]
    'FunnelError'

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 ``summary``, ``to_dict()`` and ``status``.
    """

    #: The HTTP status an API answers this error with (``to_dict()["status"]``): 500 for
    #: funnel's own and your code's failures, 4xx for what the request asked.
    status: ClassVar[int] = 500

    def __init__(self, *args: object) -> None:
        # Defence in depth: whatever a message quotes (a stage, a key, an id, a path),
        # an e-mail address or a phone number in it is masked, and a control character
        # (an ESC sequence a terminal would act on) escaped, in str(), repr(), summary
        # and to_dict().
        super().__init__(*(_masked_message(a) if isinstance(a, str) else a for a in args))

    @property
    def summary(self) -> str:
        """The first line of the message."""
        text = str(self.args[0]) if self.args else type(self).__name__
        return text.split("\n", 1)[0]

    def _details(self) -> dict[str, Any]:
        """Extra, JSON-friendly fields of this error (overridden by subclasses)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """
        The error as a JSON-friendly dict, shaped as RFC 9457 problem details.

        ``type`` is a stable URN naming the class, ``title`` the class name,
        ``status`` the HTTP status an API answers with (:attr:`status`: 422 for invalid
        input, 409 for a move the record's state refuses, 404 for an unknown record...),
        ``detail`` the summary; the other keys are the error's own fields
        (record id, event, stage, field, reasons, ...). Records appear by id only, and
        no message holds personal data.

        >>> from funnel.exceptions import IllegalEvent
        >>> err = IllegalEvent("Lead 'L1' cannot win from stage 'mql'", record="L1",
        ...                    event="win", stage="mql", reasons=("events allowed: nurture",))
        >>> err.to_dict()
        {'type': 'urn:funnel:error:IllegalEvent', 'title': 'IllegalEvent', 'status': 409, \
'detail': "Lead 'L1' cannot win from stage 'mql'", 'record': 'L1', 'event': 'win', \
'stage': 'mql', 'reasons': ['events allowed: nurture']}
        """
        body: dict[str, Any] = {
            "type": f"urn:funnel:error:{type(self).__name__}",
            "title": type(self).__name__,
            "status": self.status,
            "detail": self.summary,
        }
        body.update({k: _safe_value(v) for k, v in self._details().items() if v is not None})
        return body


def _safe_value(value: Any) -> Any:
    """A detail as :meth:`FunnelError.to_dict` gives it: every text in it masked (see _safe)."""
    if isinstance(value, str):
        return _safe(value)
    if isinstance(value, list | tuple):
        return [_safe_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _safe_value(v) for k, v in value.items()}
    return value


class ValidationError(FunnelError, ValueError, TypeError):
    """
    Raised when a value given to a record or a function is invalid.

    The message names the record (when there is one) and the field. It is
    both a :class:`ValueError` and a :class:`TypeError`, so code written
    against the built-in errors keeps working.

    >>> from datetime import datetime
    >>> from funnel import Contact, Lead
    >>> Lead(id="L1", contact=Contact(name="Ann"), source="web", created_at=datetime(2026, 1, 1))
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: Lead.created_at must be timezone-aware, got naive ...

    Attributes:
        record: What was being built or checked (``"Touch 't1'"``, ``"Lead 'L1'"``),
            if known.
        field: The offending field or argument, if known.
        allowed: The allowed values, when there is a closed set.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 ``record``, ``field`` and ``allowed``.
    """

    status = 422  # Unprocessable Content

    def __init__(
        self,
        message: str,
        *,
        record: str | None = None,
        field: str | None = None,
        allowed: Sequence[str] | None = None,
    ) -> None:
        self.record = record
        self.field = field
        self.allowed: tuple[str, ...] | None = tuple(allowed) if allowed is not None else None
        super().__init__(message)

    def _details(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "field": self.field,
            "allowed": list(self.allowed) if self.allowed is not None else None,
        }


class UnknownName(ValidationError, KeyError):
    """
    Raised when a funnel or framework is asked for a stage, event or criterion it lacks.

    Both a :class:`ValidationError` and a :class:`KeyError`, so code that caught
    the ``KeyError`` these lookups raised before keeps working.

    >>> from funnel import DEFAULT_FUNNEL
    >>> DEFAULT_FUNNEL.level_of("limbo")
    Traceback (most recent call last):
    ...
    funnel.exceptions.UnknownName: funnel 'sources' has no stage 'limbo'

    .. versionadded:: 0.2.0
    """

    __str__ = BaseException.__str__  # KeyError's would quote the whole message


class TransitionError(FunnelError):
    """
    Raised when a record cannot take an event.

    Attributes:
        record: The record the event was sent to (unchanged).
        event: The event name.
        stage: The record's stage when the event was refused.
        reasons: Human-readable reasons, most important first.

    .. versionadded:: 0.1.0
    """

    status = 409  # Conflict: the record's state refuses the move

    def __init__(
        self,
        message: str,
        *,
        record: object,
        event: str,
        stage: str,
        reasons: Sequence[str] = (),
    ) -> None:
        self.record = record
        self.event = event
        self.stage = stage
        hide = _hider(record)
        self.reasons: tuple[str, ...] = tuple(_safe(hide(str(r))) for r in reasons)
        detail = "".join(f"\n  - {r}" for r in self.reasons)
        super().__init__(f"{message}{detail}")

    def _details(self) -> dict[str, Any]:
        return {
            "record": _record_id(self.record),
            # An event from data that is not a name may be anything (a misplaced phone).
            "event": self.event if is_name(self.event) else "(not shown: not a name)",
            "stage": self.stage if is_name(self.stage) else "(not shown: not a name)",
            "reasons": list(self.reasons),
        }


class IllegalEvent(TransitionError, ValueError):
    """
    Raised when an event has no transition from the record's current stage.

    This is the funnel's counterpart of python-statemachine's
    ``TransitionNotAllowed``: terminal stages accept nothing, and there is no
    event that takes a prospect back to a lead stage.

    .. versionadded:: 0.1.0
    """


class GuardFailed(TransitionError, ValueError):
    """
    Raised when the event exists from this stage but its guards refuse it.

    ``reasons`` says which guard failed and why (e.g. which criteria are
    not met, or that no two-way communication exists yet).

    .. versionadded:: 0.1.0
    """


class NotQualified(GuardFailed):
    """
    Raised when a lead cannot become a prospect.

    Attributes:
        qualification: The :class:`~funnel.Qualification` that failed, or
            ``None`` when only engagement was missing.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        message: str,
        *,
        record: object,
        event: str,
        stage: str,
        reasons: Sequence[str] = (),
        qualification: Any = None,
    ) -> None:
        super().__init__(message, record=record, event=event, stage=stage, reasons=reasons)
        self.qualification = qualification


class ChronologyError(TransitionError, ValueError):
    """
    Raised when a change would be recorded earlier than the record's last change.

    History only moves forward: a transition at ``at`` must not precede the
    previous one.

    .. versionadded:: 0.1.0
    """


class WrongLevel(TransitionError, TypeError):
    """
    Raised when an event would move a record to a stage of the other level.

    ``advance()`` keeps a :class:`~funnel.Lead` a lead and a
    :class:`~funnel.Prospect` a prospect; crossing from lead to prospect goes
    through :func:`~funnel.convert`. ``reasons`` says which level each side is.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 carries ``reasons`` like every transition error.
    """


class DefinitionError(FunnelError, ValueError):
    """
    Raised when a funnel definition is invalid.

    Attributes:
        problems: Every problem found, each a :class:`DefinitionProblem`.
        source: The file (or other origin) of the definition, if known.

    .. versionadded:: 0.1.0
    """

    status = 422

    def __init__(self, problems: Sequence[DefinitionProblem], source: str | None = None) -> None:
        self.problems: tuple[DefinitionProblem, ...] = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(
            f"invalid funnel definition{where}: {len(self.problems)} problem(s){lines}"
        )

    def _details(self) -> dict[str, Any]:
        return {
            "source": _safe(self.source) if self.source is not None else None,
            "problems": [
                {"kind": p.kind, "message": _safe(p.message), "key": _safe(p.key), "line": p.line}
                for p in self.problems
            ],
        }


class DefinitionProblem:
    """
    One problem in a funnel definition: what is wrong and where.

    Attributes:
        kind: A stable machine-readable code, e.g. ``"unknown-stage"``.
        message: What is wrong, for people.
        key: The dotted key path in the definition, e.g. ``"transitions[3].target"``.
        line: The line number in the source file, if known.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("key", "kind", "line", "message")

    def __init__(self, kind: str, message: str, key: str = "", line: int | None = None) -> None:
        self.kind = kind
        self.message = message
        self.key = key
        self.line = line

    def __str__(self) -> str:
        where = self.key
        if self.line is not None:
            where = f"{where} (line {self.line})" if where else f"line {self.line}"
        return (
            f"[{self.kind}] {where}: {self.message}" if where else f"[{self.kind}] {self.message}"
        )

    def __repr__(self) -> str:
        return (
            f"DefinitionProblem(kind={self.kind!r}, message={self.message!r}, "
            f"key={self.key!r}, line={self.line!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DefinitionProblem):
            return NotImplemented
        return (self.kind, self.message, self.key, self.line) == (
            other.kind,
            other.message,
            other.key,
            other.line,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.message, self.key, self.line))


class CommunicationRefused(FunnelError, ValueError):
    """
    Raised when a planned touch breaks the funnel's communication rules.

    Attributes:
        record: The lead or prospect the touch was aimed at.
        touch: The refused touch.
        reasons: Why it was refused.

    .. versionadded:: 0.1.0
    """

    status = 403  # the rules or the consent forbid it

    def __init__(self, *, record: object, touch: object, reasons: Sequence[str]) -> None:
        self.record = record
        self.touch = touch
        hide = _hider(record)
        self.reasons: tuple[str, ...] = tuple(_safe(hide(str(r))) for r in reasons)
        super().__init__("touch refused:" + "".join(f"\n  - {r}" for r in self.reasons))

    @property
    def summary(self) -> str:
        """``touch refused:`` and the first reason (the message lists each on its own line)."""
        if not self.reasons:
            return "touch refused"
        more = f" (and {len(self.reasons) - 1} more)" if len(self.reasons) > 1 else ""
        return f"touch refused: {self.reasons[0]}{more}"

    def _details(self) -> dict[str, Any]:
        return {
            "record": _record_id(self.record),
            "touch": _record_id(self.touch),
            "reasons": list(self.reasons),
        }


class LoadError(FunnelError, ValueError):
    """
    Raised when an input (file, frame, definition) cannot be read at all.

    Row-level problems are not raised: loaders return them as rejected rows.

    .. versionadded:: 0.1.0
    """

    status = 422


class SerializationError(FunnelError, ValueError):
    """
    Raised when serialized data cannot be turned back into records.

    Attributes:
        path: Where in the document the problem is, e.g. ``"touches[2].at"``.

    .. versionadded:: 0.1.0
    """

    status = 422

    def __init__(self, message: str, *, path: str = "") -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)

    def _details(self) -> dict[str, Any]:
        return {"path": self.path or None}


class PersistenceError(FunnelError):
    """
    Base class of storage errors.

    .. versionadded:: 0.1.0
    """


class StaleWriteError(PersistenceError):
    """
    Raised when a write was based on an outdated version of a record.

    Attributes:
        record_id: The record's id.
        expected: The version the writer read.
        actual: The version currently stored.

    .. versionadded:: 0.1.0
    """

    status = 409  # a newer version is stored: read it again

    def __init__(self, record_id: str, expected: int, actual: int | None) -> None:
        self.record_id = record_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stale write for record {record_id!r}: based on version {expected}, "
            f"but the stored version is {actual}"
        )

    def _details(self) -> dict[str, Any]:
        return {"record": self.record_id, "expected": self.expected, "actual": self.actual}


class RecordArchived(PersistenceError):
    """
    Raised when a record that was merged into another is read or saved.

    Attributes:
        record_id: The absorbed record's id.
        survivor: The id of the record it was merged into (read and save that one).

    .. versionadded:: 0.2.0
    """

    status = 410  # gone: merged into another record

    def __init__(self, record_id: str, survivor: str) -> None:
        self.record_id = record_id
        self.survivor = survivor
        super().__init__(
            f"record {record_id!r} was merged into {survivor!r} and is archived: read and "
            f"save {survivor!r} instead (history() still reads the archived record's "
            "transitions)"
        )

    def _details(self) -> dict[str, Any]:
        return {"record": self.record_id, "survivor": self.survivor}


class RecordNotFound(PersistenceError, KeyError):
    """
    Raised when a record id is not in storage.

    .. versionadded:: 0.1.0
    """

    status = 404

    def __init__(self, record_id: str) -> None:
        self.record_id = record_id
        super().__init__(record_id)

    def __str__(self) -> str:
        return _masked_message(f"no record with id {self.record_id!r}")

    @property
    def summary(self) -> str:
        return str(self)

    def _details(self) -> dict[str, Any]:
        return {"record": self.record_id}


#: The extra that brings each optional dependency (by top-level module name).
EXTRA_OF: Mapping[str, str] = MappingProxyType(
    {
        "dask": "dask",
        "duckdb": "duckdb",
        "kaleido": "png",
        "narwhals": "analytics",
        "pandas": "pandas",
        "plotly": "plot",
        "polars": "analytics",
        "pyarrow": "parquet",
        "pydantic": "api",
        "pydot": "diagrams",
        "pyspark": "spark",
        "rich": "cli",
        "sqlalchemy": "sql",
        "tomlkit": "toml",
    }
)


class MissingExtra(FunnelError, ImportError):
    """
    Raised when an optional dependency is not installed; the message names the extra.

    Raised ``from None`` (no chained ``ModuleNotFoundError``), and shown by IPython and
    Jupyter as one line instead of a traceback.

    >>> err = MissingExtra("analytics", "reports need narwhals and polars")
    >>> str(err)
    'reports need narwhals and polars: pip install "salesfunnel[analytics]"'
    >>> err.extra, isinstance(err, ImportError)
    ('analytics', True)

    .. versionadded:: 0.2.0
    """

    def __init__(self, extra: str, why: str) -> None:
        self.extra = extra
        super().__init__(f'{why}: pip install "salesfunnel[{extra}]"')

    @classmethod
    def of(cls, exc: ModuleNotFoundError, needed_by: str) -> MissingExtra | None:
        """
        The error for *exc* if its module comes with an extra (see :data:`EXTRA_OF`), else None.

        >>> str(MissingExtra.of(ModuleNotFoundError(name="rich.table"), "funnel report"))
        'funnel report needs rich, which is not installed: pip install "salesfunnel[cli]"'
        >>> MissingExtra.of(ModuleNotFoundError(name="no_such_module"), "x") is None
        True
        """
        module = (exc.name or "").partition(".")[0]
        extra = EXTRA_OF.get(module)
        if extra is None:
            return None
        return cls(extra, f"{needed_by} needs {module}, which is not installed")

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class DiagramError(FunnelError, RuntimeError):
    """
    Raised when a diagram format cannot be produced on this machine.

    E.g. SVG without pydot or without the Graphviz ``dot`` binary. The message
    says what to install; mermaid text always works.

    .. versionadded:: 0.1.0
    """


class HookError(FunnelError):
    """
    Raised after the transition when one or more *after* hooks failed.

    The transition stands: ``record`` is the new record, complete and
    consistent. Every listener was called; ``failures`` lists those that
    raised (each a :class:`funnel.engine.hooks.HookFailure`), and
    ``exceptions`` their errors. The message names each failing hook and the
    type of its error, never the error's text (it may hold personal data).

    Attributes:
        record: The new record.
        failures: One failure per failing listener.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 moved here from ``funnel.hooks``.
    """

    def __init__(self, record: Any, failures: Sequence[Any]) -> None:
        self.record = record
        self.failures = tuple(failures)
        self.exceptions = tuple(f.error for f in self.failures)
        # A hook's own message may hold personal data: only its type is shown here;
        # the errors themselves are in ``exceptions``.
        lines = "".join(
            f"\n  - {f.listener} on {f.transition.change.event}: {describe(f.error)}"
            for f in self.failures
        )
        super().__init__(
            f"{len(self.failures)} hook(s) failed after {type(record).__name__} {record.id!r} "
            f"moved to {record.stage!r} (the transition stands){lines}"
        )

    def _details(self) -> dict[str, Any]:
        return {
            "record": _record_id(self.record),
            "hooks": [f.listener for f in self.failures],
        }


class GuardError(FunnelError):
    """
    Raised when a guard (your code) failed: it raised, or returned something other
    than its reasons (a tuple of strings, empty when it passes).

    A guard that returns ``None``, ``True`` or ``False`` would otherwise pass or
    refuse by accident, so it is refused. The message names the guard, the record
    and the error's type, never the error's text (it may hold personal data); the
    guard's own exception is the ``__cause__``.

    Attributes:
        guard: The guard's name.
        record: The record it was evaluated for.

    .. versionadded:: 0.2.0
    """

    def __init__(self, message: str, *, guard: str, record: object) -> None:
        self.guard = guard
        self.record = record
        super().__init__(message)

    def _details(self) -> dict[str, Any]:
        return {"guard": self.guard, "record": _record_id(self.record)}


class HookVetoed(TransitionError):
    """
    Raised when a *before* hook refused a transition.

    Nothing changed: ``record`` is the input record. The hook's exception is
    the ``__cause__``.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 moved here from ``funnel.hooks``.
    """


class ScoringError(FunnelError, ValueError):
    """
    Raised when a scoring model or threshold is invalid, naming the rule or field.

    Attributes:
        field: The offending field or rule name.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 moved here from ``funnel.scoring``.
    """

    status = 422

    def __init__(self, message: str, *, field: str) -> None:
        self.field = field
        super().__init__(message)

    def _details(self) -> dict[str, Any]:
        return {"field": self.field}


class PredictiveError(FunnelError, ValueError):
    """
    Raised when training rows or a prediction request are unusable.

    Attributes:
        row: The index or id of the offending training row, if any.
        field: The offending field, if any.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 moved here from ``funnel.predictive``.
    """

    status = 422

    def __init__(self, message: str, *, row: object = None, field: str | None = None) -> None:
        self.row = row
        self.field = field
        super().__init__(message)

    def _details(self) -> dict[str, Any]:
        row = self.row if isinstance(self.row, int | str) else None
        return {"row": row, "field": self.field}


class ForecastError(FunnelError, ValueError):
    """
    Raised when a deal or a probability cannot enter a forecast.

    Attributes:
        record: The id of the offending deal or record, if any.
        field: The offending field (``"value"``, ``"stage"``, ``"probability"``).

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 moved here from ``funnel.forecast``.
    """

    status = 422

    def __init__(self, message: str, *, record: str | None = None, field: str = "") -> None:
        self.record = record
        self.field = field
        super().__init__(message)

    def _details(self) -> dict[str, Any]:
        return {"record": self.record, "field": self.field or None}


class InsufficientHistory(ForecastError):
    """
    Raised when a stage's probability is needed but history is too thin.

    Attributes:
        stage: The stage.
        samples: Closed leads that reached it.
        min_samples: The floor that was not met.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 moved here from ``funnel.forecast``.
    """

    def __init__(
        self, stage: str, samples: int, min_samples: int, record: str | None = None
    ) -> None:
        self.stage = stage
        self.samples = samples
        self.min_samples = min_samples
        who = f"deal {record!r}: " if record else ""
        super().__init__(
            f"{who}insufficient history for stage {stage!r}: {samples} closed lead(s) "
            f"reached it, fewer than min_samples={min_samples}; pass a fallback",
            record=record,
            field="stage",
        )

    def _details(self) -> dict[str, Any]:
        return {
            **super()._details(),
            "stage": self.stage,
            "samples": self.samples,
            "min_samples": self.min_samples,
        }


class SimulationError(FunnelError, ValueError):
    """
    Raised when a chain cannot be estimated, changed or simulated as asked.

    Attributes:
        stage: The stage concerned, if any.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 moved here from ``funnel.simulation``.
    """

    status = 422

    def __init__(self, message: str, *, stage: str | None = None) -> None:
        self.stage = stage
        super().__init__(message)

    def _details(self) -> dict[str, Any]:
        return {"stage": self.stage}


class FunnelWarning(UserWarning):
    """
    Base class of warnings issued by funnel.

    Turn them into errors with
    ``warnings.filterwarnings("error", category=funnel.FunnelWarning)``.

    .. versionadded:: 0.1.0
    """


class ForecastWarning(FunnelWarning):
    """
    Issued when a forecast extrapolates beyond what its data can tell.

    For example the outcome history before the cut-off (first recorded win or loss to
    the cut-off) is shorter than the horizon, or a stage the forecast rests on has too
    few closed deals (see :func:`funnel.forecasting.outcome_history`).

    Attributes:
        kind: A stable code, e.g. ``"short-outcome-history"``.
        cutoff: The cut-off the forecast was fitted at, if one.
        outcome_days: Days of outcomes known at the cut-off, if known.
        horizon_days: The forecast's horizon in days, if one.
        thin_stages: The stages with too few closed deals.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "short-outcome-history",
        cutoff: object = None,
        outcome_days: float | None = None,
        horizon_days: float | None = None,
        thin_stages: tuple[str, ...] = (),
    ) -> None:
        self.kind = kind
        self.cutoff = cutoff
        self.outcome_days = outcome_days
        self.horizon_days = horizon_days
        self.thin_stages = tuple(thin_stages)
        super().__init__(_masked_message(message))


class DefinitionWarning(FunnelWarning):
    """
    Issued when a funnel definition loads but something in it is doubtful.

    For example a final stage without an outcome (reports count it neither won nor
    lost), or a criterion declared and never used (see :mod:`funnel.io.definition.doubts`).

    Attributes:
        kind: A stable code, e.g. ``"final-without-outcome"``.
        key: The dotted key in the definition, e.g. ``"stages.closed"``.
        line: The line in the source file, if known.
        source: The file (or other origin), if known.

    .. versionadded:: 0.2.0
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        key: str = "",
        line: int | None = None,
        source: str | None = None,
    ) -> None:
        self.kind = kind
        self.key = key
        self.line = line
        self.source = source
        where = ":".join(str(p) for p in (source, line) if p is not None)
        head = f"{where}: " if where else ""
        at = f" {key}:" if key else ""
        super().__init__(_masked_message(f"{head}[{kind}]{at} {message}"))
