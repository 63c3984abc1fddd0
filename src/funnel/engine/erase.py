"""
Erasure: a record with every piece of personal data taken out, its funnel kept countable.

A data subject's erasure request (GDPR article 17, CCPA "right to delete") asks for the
person's data to go; a company still needs to count its funnel. :func:`erase` returns
the record with:

* the contact (and a prospect's stakeholder) anonymised: the name becomes
  :data:`ERASED`, email, phone and job title are dropped, and the consent becomes
  ``do_not_contact`` (nobody may write to an erased person again, and
  :func:`funnel.add_touch` refuses every outbound touch to them);
* every free text dropped: touch notes, the sender of inbound touches (the person),
  evidence notes and the qualification reasons quoting them; a stage change's reason
  (``why``) becomes :data:`ERASED`, so that a reason stays visibly given;

and everything else kept: the id, type, stage, level, every timestamp, the touches'
directions, channels, reaches and outbound senders, the evidence verdicts and sources,
the whole stage history, the company's firmographics (an organisation's data, not the
person's), owner, segment, value and ``merged_from``. Reports, conversion rates and
durations over erased records give what they gave before.

Record ids are kept: they must not be personal data (use a CRM key, not an email).

>>> from datetime import datetime, timezone
>>> from funnel import Contact, Lead, Touch
>>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
>>> lead = Lead(id="L1", contact=Contact(name="Ada", email="ada@acme.example"),
...             source="web_form", created_at=at,
...             touches=[Touch(id="f1", at=at, direction="inbound", channel="form",
...                            note="Ada Lovelace, call me on +44 20 7946 0958")])
>>> gone = erase(lead, at=at)
>>> gone.contact.name, gone.contact.email, gone.touches[0].note, gone.touches[0].channel
('[erased]', None, None, <Channel.FORM: 'form'>)
>>> gone.contact.consent.do_not_contact, gone.stage == lead.stage
(True, True)

:meth:`funnel.io.sql.SqlStore.erase` erases a stored record (and every record merged
into it) through the one rewrite the store's append-only triggers allow, with an audit
row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import attrs

from funnel._base.fields import check_text
from funnel._base.privacy import ERASED
from funnel._base.time import require_aware
from funnel.engine.transitions import require_record
from funnel.model.contact import Consent, Contact
from funnel.model.engagement import EngagementFinding
from funnel.model.evidence import Evidence
from funnel.model.history import StageChange
from funnel.model.qualification import CriterionResult, Qualification
from funnel.model.records import Lead, Prospect
from funnel.model.touch import Direction, Touch

__all__ = ("DEFAULT_REASON", "ERASED", "erase", "is_erased")

# ERASED ("[erased]", from funnel._base.privacy) replaces an erased name and an erased
# stage-change reason; reprs show it as "<erased>".
#: The reason :func:`erase` records when none is given.
DEFAULT_REASON = "erasure request"

R = TypeVar("R", bound=Lead | Prospect)

_NO_CONTACT = Consent(opted_out=True, do_not_contact=True)


def erase(record: R, *, at: datetime, reason: str = DEFAULT_REASON) -> R:
    """
    *record* with its personal data anonymised and its funnel data kept (see above).

    Pure: nothing is written anywhere; the input does not change. Erasing an erased
    record changes nothing.

    Args:
        record: The lead or prospect of the person who asked.
        at: When the erasure happens (timezone-aware); the store's audit row keeps it.
        reason: Why, for the audit: a request number or a legal basis. Never personal
            data (it is kept).

    Raises:
        ValidationError: *record* is no lead or prospect, *at* is not aware, or
            *reason* is not a non-blank text.
        ChronologyError: *at* precedes the record's latest change (its creation, a
            touch, a finding, a stage change, a conversion, a close or a merge); the
            message names the record and the field, ``at``.
    """
    require_record(record)
    require_aware(at, "at", field="at")
    check_text(reason, record=None, field="reason", blank=False)
    from funnel.engine.dedupe import refuse_before_latest_change  # it imports the engine's core

    refuse_before_latest_change(record, at, event="erase", doing="be erased")
    changes: dict[str, Any] = {
        "contact": _contact(record.contact),
        "touches": tuple(_touch(t) for t in record.touches),
        "evidence": tuple(_evidence(e) for e in record.evidence),
        "history": tuple(_change(c) for c in record.history),
    }
    if isinstance(record, Prospect):
        changes["qualification"] = _qualification(record.qualification)
        changes["engagement"] = _engagement(record.engagement)
        if record.stakeholder is not None:
            changes["stakeholder"] = _contact(record.stakeholder)
    return attrs.evolve(record, **changes)


def is_erased(record: Lead | Prospect) -> bool:
    """Whether *record*'s contact has been erased by :func:`erase`."""
    require_record(record)
    contact = record.contact
    return contact.name == ERASED and contact.email is None and contact.phone is None


def _contact(contact: Contact) -> Contact:
    return Contact(name=ERASED, company=contact.company, consent=_NO_CONTACT)


def _touch(touch: Touch) -> Touch:
    sender = touch.sender if touch.direction is Direction.OUTBOUND else None
    if touch.note is None and sender == touch.sender:
        return touch
    return attrs.evolve(touch, note=None, sender=sender)


def _evidence(evidence: Evidence) -> Evidence:
    return evidence if evidence.note is None else attrs.evolve(evidence, note=None)


def _change(change: StageChange) -> StageChange:
    return change if change.why in (None, ERASED) else attrs.evolve(change, why=ERASED)


def _qualification(qualification: Qualification) -> Qualification:
    return attrs.evolve(qualification, results=tuple(_result(r) for r in qualification.results))


def _result(result: CriterionResult) -> CriterionResult:
    ev = result.evidence
    if ev is None:
        return result
    # The reason quotes the evidence's note (see funnel.model.qualification): say only
    # who found it and when.
    return attrs.evolve(
        result, evidence=_evidence(ev), reason=f"{ev.source} on {ev.at.date().isoformat()}"
    )


def _engagement(finding: EngagementFinding) -> EngagementFinding:
    if finding.touch is None:
        return finding
    return attrs.evolve(finding, touch=_touch(finding.touch))
