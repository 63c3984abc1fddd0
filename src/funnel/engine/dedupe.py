"""
Duplicates: find records that are probably the same person or company, and merge two.

Detection (:func:`find_duplicates`) matches on three keys, each reported as
the reason of a match:

* ``"email"`` – the same normalised address (:func:`normalize_email`:
  case, spaces, ``+tags``, and dots in Gmail local parts ignored);
* ``"domain"`` – the same email (or company) domain, unless it is a public
  mail provider (:data:`PUBLIC_EMAIL_DOMAINS`): two people at
  ``acme.example`` are probably one account, two at ``gmail.com`` are not;
* ``"company"`` – the same company name once case, punctuation and legal
  suffixes (Inc, Ltd, GmbH, SA, LLC, ...) are dropped (:func:`normalize_company`).

:func:`merge` keeps the most advanced record (a prospect beats a lead; then
an open record beats a lost one; then the later stage in the funnel's order;
on a tie, the older record), adds the other's touches and evidence, keeps the
stricter consent, notes the absorbed record in the survivor's ``merged_from``
(a dated entry: the survivor's ``history`` stays the chain of its stage changes),
and returns the absorbed record's history beside the survivor in a
:class:`MergeResult`. :meth:`funnel.io.sql.SqlStore.merge` stores the survivor and
archives the absorbed record in one transaction.

>>> from funnel import Contact, Lead
>>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
>>> a = Lead(id="L1", contact=Contact(name="Ada", email="Ada.Lovelace+news@gmail.com"),
...          source="web", created_at=at)
>>> b = Lead(id="L2", contact=Contact(name="A. Lovelace", email="adalovelace@googlemail.com"),
...          source="list", created_at=at)
>>> [(g.ids, g.reasons) for g in find_duplicates([a, b])]
[(('L1', 'L2'), ('email',))]
>>> survivor = merge(a, b, at=at).survivor
>>> survivor.id, [m.id for m in survivor.merged_from]
('L1', ['L2'])
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

import attrs

from funnel._base.fields import shown
from funnel._base.privacy import mask_email
from funnel._base.time import utc
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel, resolve_funnel
from funnel.engine.transitions import owner, require_record
from funnel.exceptions import ChronologyError, ValidationError
from funnel.model.contact import Consent, Contact
from funnel.model.evidence import Evidence
from funnel.model.history import StageChange
from funnel.model.records import Lead, MergedRecord, Prospect, QualificationLevel
from funnel.model.touch import Touch

__all__ = (
    "LEGAL_SUFFIXES",
    "PUBLIC_EMAIL_DOMAINS",
    "DuplicateGroup",
    "DuplicateMatch",
    "MergeResult",
    "Reason",
    "email_domain",
    "find_duplicates",
    "latest_change",
    "merge",
    "normalize_company",
    "normalize_email",
)

Record = Lead | Prospect
Reason = Literal["email", "domain", "company"]

#: Free and ISP mail providers: a shared domain there says nothing about the company.
PUBLIC_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "hey.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "orange.fr",
        "outlook.com",
        "pm.me",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "t-online.de",
        "web.de",
        "yahoo.co.uk",
        "yahoo.com",
        "yahoo.fr",
        "yandex.ru",
        "zoho.com",
    }
)

_GMAIL = frozenset({"gmail.com", "googlemail.com"})

#: Legal-form words dropped from company names before comparing them.
LEGAL_SUFFIXES: frozenset[str] = frozenset(
    {
        "ab",
        "ag",
        "bv",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "inc",
        "incorporated",
        "kg",
        "limited",
        "llc",
        "llp",
        "ltd",
        "nv",
        "oy",
        "plc",
        "pty",
        "sa",
        "sarl",
        "sas",
        "spa",
        "srl",
    }
)

_NON_WORD = re.compile(r"[^\w]+")


def normalize_email(email: str | None) -> str | None:
    """
    The comparable form of an address, or ``None`` when there is none.

    Lower-cased and stripped; a ``+tag`` in the local part is dropped; for
    Gmail (``gmail.com``, ``googlemail.com``) dots in the local part are
    ignored and the domain is ``gmail.com``.

    >>> normalize_email("  Ada.Lovelace+crm@GoogleMail.com ")
    'adalovelace@gmail.com'
    >>> normalize_email("ada.lovelace+x@acme.example")
    'ada.lovelace@acme.example'
    >>> normalize_email("not an address") is None
    True
    """
    if email is None:
        return None
    local, sep, domain = email.strip().lower().rpartition("@")
    if not sep or not local or not domain or " " in local or "." not in domain:
        return None
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}" if local else None


def email_domain(email: str | None) -> str | None:
    """The lower-cased domain of *email* (``None`` when it has none)."""
    normal = normalize_email(email)
    return normal.rpartition("@")[2] if normal else None


def normalize_company(name: str | None) -> str | None:
    """
    A company name without case, accents, punctuation or legal suffixes.

    >>> normalize_company("ACME, Inc.") == normalize_company("Acme Incorporated")
    True
    >>> normalize_company("Globex GmbH & Co. KG")
    'globex'
    >>> normalize_company("Ltd") is None
    True
    """
    if name is None:
        return None
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " ")
    words = [w for w in _NON_WORD.split(text) if w]
    while words and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words) or None


@attrs.frozen(repr=False)
class DuplicateMatch:
    """
    Records sharing one key.

    Attributes:
        reason: ``"email"``, ``"domain"`` or ``"company"``.
        key: The shared normalised value (e.g. ``"acme.example"``); an email
            key is masked in ``repr()``.
        ids: The records that share it, sorted.
    """

    reason: Reason
    key: str
    ids: tuple[str, ...]

    def __repr__(self) -> str:
        key = mask_email(self.key) if self.reason == "email" else repr(self.key)
        return f"DuplicateMatch(reason={self.reason!r}, key={key}, ids={self.ids!r})"


@attrs.frozen
class DuplicateGroup:
    """
    Records that are probably one account, and why.

    Attributes:
        ids: The records, sorted.
        matches: Every shared key that links them.
    """

    ids: tuple[str, ...]
    matches: tuple[DuplicateMatch, ...]

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """The kinds of match, strongest first (email, domain, company)."""
        order: tuple[Reason, ...] = ("email", "domain", "company")
        found = {m.reason for m in self.matches}
        return tuple(r for r in order if r in found)


def _keys(record: Record, by: frozenset[str]) -> list[tuple[Reason, str]]:
    contact = record.contact
    keys: list[tuple[Reason, str]] = []
    email = normalize_email(contact.email)
    if "email" in by and email:
        keys.append(("email", email))
    if "domain" in by:
        domains = {email_domain(contact.email)}
        if contact.company is not None and contact.company.domain:
            domains.add(contact.company.domain.strip().lower())
        keys.extend(("domain", d) for d in sorted(d for d in domains if d) if _private(d))
    if "company" in by and contact.company is not None:
        company = normalize_company(contact.company.name)
        if company:
            keys.append(("company", company))
    return keys


def _private(domain: str) -> bool:
    return domain not in PUBLIC_EMAIL_DOMAINS


def find_duplicates(
    records: Iterable[Record],
    *,
    by: Reason | Iterable[Reason] = ("email", "domain", "company"),
) -> list[DuplicateGroup]:
    """
    Group records that share a normalised email, a private email domain or a company.

    Records linked through any chain of shared keys form one group. Groups
    come sorted by their first id; records without a duplicate are left out.

    Args:
        records: Leads and prospects (ids must be unique).
        by: Which keys to match on: one key name or several.

    Raises:
        ValueError: two records have the same id, or *by* names an unknown key.
    """
    allowed = ("email", "domain", "company")
    given: list[object]
    try:
        given = [by] if isinstance(by, str) else list(by)
    except TypeError:
        given = [by]
    unknown = [k for k in given if not isinstance(k, str) or k not in allowed]
    if unknown:
        raise ValidationError(
            f"unknown duplicate keys [{', '.join(shown(k) for k in unknown)}]; "
            "use email, domain, company",
            field="by",
            allowed=allowed,
        )
    kinds = frozenset(str(k) for k in given)
    items: object = records
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise ValidationError(
            f"find_duplicates() takes leads and prospects, got {type(records).__name__}",
            field="records",
        )
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    holders: dict[tuple[Reason, str], list[str]] = {}
    for i, record in enumerate(records):
        require_record(record, f"records[{i}]")
        if record.id in parent:
            raise ValidationError(f"duplicate record id {record.id!r} in find_duplicates() input")
        parent[record.id] = record.id
        for key in _keys(record, kinds):
            holders.setdefault(key, []).append(record.id)
    matches = [
        DuplicateMatch(reason, key, tuple(sorted(ids)))
        for (reason, key), ids in holders.items()
        if len(ids) > 1
    ]
    for match in matches:
        root = find(match.ids[0])
        for other in match.ids[1:]:
            parent[find(other)] = root
    members: dict[str, list[str]] = {}
    for record_id in parent:
        members.setdefault(find(record_id), []).append(record_id)
    by_root: dict[str, list[DuplicateMatch]] = {}
    for match in matches:
        by_root.setdefault(find(match.ids[0]), []).append(match)
    groups = [
        DuplicateGroup(
            ids=tuple(sorted(members[root])),
            matches=tuple(sorted(found, key=lambda m: (m.reason, m.key))),
        )
        for root, found in by_root.items()
    ]
    return sorted(groups, key=lambda g: g.ids)


@attrs.frozen(kw_only=True)
class MergeResult:
    """
    The outcome of :func:`merge`.

    Attributes:
        survivor: The kept record, with both records' touches and evidence,
            the stricter consent, its own history (its stage chain) and, in
            ``merged_from``, the absorbed record (and what had been merged into it).
        absorbed_id: The id of the record merged into it (archive it in your
            storage: :meth:`funnel.io.sql.SqlStore.merge` does).
        absorbed_stage: Where the absorbed record stood.
        absorbed_history: The absorbed record's stage history, kept here
            because a record has only one stage chain.
        renamed_touches: Touch ids of the absorbed record that clashed with
            the survivor's and were renamed: ``{old id: new id}``.
        merged_at: When the merge happened.
    """

    survivor: Record
    absorbed_id: str
    absorbed_stage: str
    absorbed_history: tuple[StageChange, ...]
    renamed_touches: dict[str, str]
    merged_at: datetime


_LEVEL_RANK = {QualificationLevel.RAW: 0, QualificationLevel.MQL: 1, QualificationLevel.SQL: 2}


def _rank(record: Record, funnel: Funnel) -> tuple[int, int, int, int]:
    """
    How advanced a record is: a prospect over a lead; won over open over lost;
    for leads the qualification level (a raw lead in nurturing is behind an SQL);
    then the position on the funnel's road to a win (an open stage off that road,
    such as nurturing, just after the initial stage).
    """
    path = funnel.main_path
    stage = record.stage
    outcome = 2 if stage in funnel.won_stages else 0 if stage in funnel.lost_stages else 1
    level = _LEVEL_RANK.get(record.level, 0) if isinstance(record, Lead) else 0
    return (
        1 if isinstance(record, Prospect) else 0,
        outcome,
        level,
        2 * path.index(stage) if stage in path else 1,
    )


def _survivor_first(a: Record, b: Record, funnel: Funnel) -> tuple[Record, Record]:
    ra, rb = _rank(a, funnel), _rank(b, funnel)
    if ra != rb:
        return (a, b) if ra > rb else (b, a)
    if a.created_at != b.created_at:
        return (a, b) if a.created_at < b.created_at else (b, a)
    return (a, b) if a.id <= b.id else (b, a)


def _union_touches(
    kept: Sequence[Touch], absorbed: Sequence[Touch], absorbed_id: str
) -> tuple[tuple[Touch, ...], dict[str, str]]:
    mine = {t.id: t for t in kept}
    taken = set(mine) | {t.id for t in absorbed}
    renamed: dict[str, str] = {}
    for touch in absorbed:
        if touch.id in mine and mine[touch.id] != touch:
            new_id, n = f"{absorbed_id}:{touch.id}", 2
            while new_id in taken:
                new_id, n = f"{absorbed_id}:{touch.id}:{n}", n + 1
            taken.add(new_id)
            renamed[touch.id] = new_id
    out = list(kept)
    for touch in absorbed:
        if touch.id in mine and touch.id not in renamed:
            continue  # the very same touch is on both records
        reply = touch.in_reply_to
        out.append(
            attrs.evolve(
                touch,
                id=renamed.get(touch.id, touch.id),
                in_reply_to=renamed.get(reply, reply) if reply is not None else None,
            )
        )
    return tuple(out), renamed


def _union_evidence(
    kept: Sequence[Evidence], absorbed: Sequence[Evidence]
) -> tuple[Evidence, ...]:
    return tuple(dict.fromkeys((*kept, *absorbed)))


def _merge_contact(kept: Contact, other: Contact) -> Contact:
    consent = Consent(
        opted_out=kept.consent.opted_out or other.consent.opted_out,
        do_not_contact=kept.consent.do_not_contact or other.consent.do_not_contact,
    )
    return attrs.evolve(
        kept,
        email=kept.email if kept.email is not None else other.email,
        phone=kept.phone if kept.phone is not None else other.phone,
        title=kept.title if kept.title is not None else other.title,
        company=kept.company if kept.company is not None else other.company,
        consent=consent,
    )


def latest_change(record: Record) -> datetime:
    """
    When *record* last changed: its creation, or its latest touch, finding, stage
    change, conversion, close or merge, whichever is latest.
    """
    times = [record.created_at]
    for items in (record.touches, record.evidence, record.history, record.merged_from):
        times.extend(item.at for item in items)
    if isinstance(record, Prospect):
        times.append(record.converted_at)
        if record.closed_at is not None:
            times.append(record.closed_at)
    return max(times)


def refuse_before_latest_change(
    record: Record, at: datetime, *, event: str, doing: str, field: str = "at", hint: str = ""
) -> None:
    """
    Refuse to *doing* *record* at *at* if that precedes its :func:`latest_change`.

    The one check and wording of the doors that date a change of their own
    (:func:`~funnel.engine.touches.add_touch`, :func:`~funnel.engine.erase.erase`,
    :func:`merge`): the message names the record by type and id (as every engine
    error does, masked like every funnel message), what was refused and the field
    holding the time, never the record's contact data; *hint* (``"; ..."``) ends it.

    >>> from datetime import datetime, timedelta, timezone
    >>> from funnel import Contact, Lead
    >>> t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> lead = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=t)
    >>> refuse_before_latest_change(lead, t, event="erase", doing="be erased")
    >>> refuse_before_latest_change(lead, t - timedelta(days=1), event="erase", doing="be erased")
    Traceback (most recent call last):
    ...
    funnel.exceptions.ChronologyError: Lead 'L1' cannot be erased: at \
(2026-02-28T00:00:00+00:00) precedes its latest change (2026-03-01T00:00:00+00:00)
      - at must not precede 2026-03-01T00:00:00+00:00

    Raises:
        ChronologyError: *at* precedes *record*'s latest change; ``record`` is
            *record*, ``event`` is *event*, ``reasons`` names *field*.
    """
    last = latest_change(record)
    if at >= last:
        return
    raise ChronologyError(
        f"{owner(record)} cannot {doing}: {field} ({at.isoformat()}) precedes its latest "
        f"change ({last.isoformat()}){hint}",
        record=record,
        event=event,
        stage=record.stage,
        reasons=(f"{field} must not precede {last.isoformat()}",),
    )


def merge(a: Record, b: Record, *, at: datetime, funnel: Funnel = DEFAULT_FUNNEL) -> MergeResult:
    """
    Merge two records of one person into the more advanced one.

    The survivor is, in order: the prospect over the lead; the open record
    over a lost or disqualified one; the later stage in *funnel*'s order;
    the older ``created_at``; the smaller id. It keeps its id, stage, history
    and own fields, and gains:

    * the other's touches (identical touches once; a touch whose id clashes
      with a different touch is renamed ``"<other id>:<touch id>"``, replies
      follow) and evidence (identical findings once);
    * the stricter consent: opted out, or do-not-contact, if either was;
    * contact details (email, phone, title, company) it lacks, and an owner
      and segment if it has none.

    The survivor's ``merged_from`` gains a dated entry for the absorbed record
    (its id, *at* and its stage) after the entries of both records, so that the
    survivor names every record ever merged into it; each entry keeps its date,
    also one older than the survivor itself. Neither input changes. A prospect
    survivor keeps the qualification that admitted it: the absorbed record's
    findings join its evidence (even dated before its conversion) without
    unmaking the conversion. *at* is compared with the records' times as an instant.
    Store the survivor and archive the absorbed record in one transaction with
    :meth:`funnel.io.sql.SqlStore.merge`, or archive the absorbed id with
    ``absorbed_history`` in your own storage.

    Raises:
        ValidationError: the records have the same id, or *at* is not aware.
        ChronologyError: *at* precedes the latest change of either record
            (see :func:`latest_change` and :func:`refuse_before_latest_change`);
            ``record`` is that record.
    """
    require_record(a, "a")
    require_record(b, "b")
    at = utc(at, "at", field="at")
    funnel = resolve_funnel(funnel)
    if a.id == b.id:
        raise ValidationError(f"cannot merge record {a.id!r} with itself")
    for record, other in ((a, b), (b, a)):
        refuse_before_latest_change(
            record, at, event="merge", doing=f"be merged with {owner(other)}"
        )
    kept, other = _survivor_first(a, b, funnel)
    absorbed = MergedRecord(id=other.id, at=at, stage=other.stage)
    touches, renamed = _union_touches(kept.touches, other.touches, other.id)
    survivor: Record = attrs.evolve(
        kept,
        contact=_merge_contact(kept.contact, other.contact),
        touches=touches,
        evidence=_union_evidence(kept.evidence, other.evidence),
        owner=kept.owner if kept.owner is not None else other.owner,
        segment=kept.segment if kept.segment is not None else other.segment,
        merged_from=(*kept.merged_from, *other.merged_from, absorbed),
    )
    return MergeResult(
        survivor=survivor,
        absorbed_id=other.id,
        absorbed_stage=other.stage,
        absorbed_history=other.history,
        renamed_touches=renamed,
        merged_at=at,
    )
