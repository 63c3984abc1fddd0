"""Email and phone never show in reprs, error messages or logs; no unsafe deserialization."""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

import funnel
from funnel import Company, Contact, Evidence, Hooks, Lead, Prospect, Touch, fire
from funnel._base.markup import Redactor, esc, mask_phones, plain, redact
from funnel._base.privacy import mask_name, mask_phone
from funnel.engine.dedupe import find_duplicates, latest_change, merge
from funnel.exceptions import ChronologyError, HookError
from funnel.io.serialize import dumps, loads
from funnel.io.sql import SqlStore
from tests.strategies import records

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
EMAIL = "ada.lovelace@acme.example"
PHONE = "+44 20 7946 0958"
SECRETS = (EMAIL, "ada.lovelace", PHONE, "7946 0958", "79460958")
SRC = Path(__file__).resolve().parents[2] / "src" / "funnel"


def _assert_masked(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into: {text[:300]}"


def _prospect() -> Prospect:
    contact = Contact(
        name="Ada", email=EMAIL, phone=PHONE, company=Company(name="Acme", domain="acme.example")
    )
    out = Touch(id="o1", at=T0, direction="outbound", channel="email", sender="rep:alice")
    reply = Touch(id="r1", at=T0, direction="inbound", channel="email", in_reply_to="o1")
    lead = Lead(
        id="L1",
        contact=contact,
        source="web_form",
        created_at=T0,
        touches=[out, reply],
        evidence=[
            Evidence(criterion=k, verdict="met", source="rep:alice", at=T0)
            for k in funnel.model.qualification.DEFAULT.keys
        ],
    )
    prospect = funnel.convert(lead, at=T0 + timedelta(hours=1))
    return attrs.evolve(prospect, stakeholder=contact)


def test_reprs_of_every_record_type_mask_email_and_phone() -> None:
    prospect = _prospect()
    lead = Lead(id="L2", contact=prospect.contact, source="list", created_at=T0)
    for obj in (prospect.contact, prospect, lead, prospect.qualification):
        _assert_masked(repr(obj))
        _assert_masked(str(obj))
    assert "a***@acme.example" in repr(prospect)
    assert "***58" in repr(prospect)


@given(records())
def test_generated_records_never_show_their_email_in_repr(record: Lead | Prospect) -> None:
    email, phone = record.contact.email, record.contact.phone
    text = repr(record)
    if email is not None:
        assert email not in text
    if phone is not None:
        assert phone not in text


def test_transition_and_serialization_errors_do_not_leak() -> None:
    prospect = _prospect()
    with pytest.raises(funnel.TransitionError) as info:
        funnel.advance(prospect, "win", at=T0 + timedelta(days=1))
    _assert_masked(str(info.value))
    _assert_masked(repr(info.value.record))
    document = json.loads(dumps(prospect))
    document["data"]["contact"]["phone"] = 44
    with pytest.raises(funnel.SerializationError) as bad:
        loads(json.dumps(document))
    _assert_masked(str(bad.value))
    document["data"]["contact"]["phone"] = PHONE
    document["data"]["touches"][1]["in_reply_to"] = "missing"
    with pytest.raises(funnel.SerializationError) as bad:
        loads(json.dumps(document))
    _assert_masked(str(bad.value))


def test_hook_logs_and_errors_do_not_leak(caplog: pytest.LogCaptureFixture) -> None:
    hooks = Hooks()
    hooks.on_any(lambda t: 1 / 0)
    with caplog.at_level(logging.DEBUG, logger="funnel"), pytest.raises(HookError) as info:
        fire(_prospect(), "open_opportunity", at=T0 + timedelta(days=1), hooks=hooks)
    assert caplog.records  # something was logged
    _assert_masked(caplog.text)
    _assert_masked(str(info.value))
    _assert_masked(repr(info.value.failures))


def test_store_and_merge_errors_do_not_leak(caplog: pytest.LogCaptureFixture) -> None:
    prospect = _prospect()
    store = SqlStore(sa.create_engine("sqlite://"))
    store.create_schema()
    with caplog.at_level(logging.DEBUG):
        store.add(prospect)
        with pytest.raises(funnel.PersistenceError) as info:
            store.add(prospect)
        _assert_masked(str(info.value))
        with pytest.raises(funnel.exceptions.StaleWriteError) as stale:
            store.save(prospect, 7)
        _assert_masked(str(stale.value))
        other = Lead(id="L3", contact=prospect.contact, source="list", created_at=T0)
        result = merge(prospect, other, at=latest_change(prospect))
        _assert_masked(repr(result))
        _assert_masked(repr(find_duplicates([prospect, other])))  # keys are normalised...
    _assert_masked(caplog.text)


_FORBIDDEN = [
    (
        re.compile(r"\bimport\s+pickle\b|\bfrom\s+pickle\b|\bpickle\.(loads?|Unpickler)\b"),
        "pickle",
    ),
    (re.compile(r"\bimport\s+(c?pickle|marshal|shelve|dill)\b"), "pickle-like module"),
    (re.compile(r"(?<![\w.])eval\("), "eval("),
    (re.compile(r"(?<![\w.])exec\("), "exec("),
    (re.compile(r"\byaml\.load\("), "yaml.load("),
    (re.compile(r"\byaml\.unsafe_load\("), "yaml.unsafe_load("),
]


def test_no_unsafe_deserialization_in_the_library() -> None:
    offenders = []
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            for pattern, what in _FORBIDDEN:
                if pattern.search(code):
                    offenders.append(f"{path.relative_to(SRC)}:{number}: {what}: {line.strip()}")
    assert offenders == []


def test_the_scan_would_catch_offenders() -> None:
    samples = ["import pickle", "x = eval(text)", "exec(code)", "yaml.load(f)", "import marshal"]
    for sample in samples:
        assert any(p.search(sample) for p, _ in _FORBIDDEN), sample
    for fine in ["literal_eval(x)", "self.evaluate(x)", "model.eval()", "yaml.safe_load(f)"]:
        assert not any(p.search(fine) for p, _ in _FORBIDDEN), fine


def test_a_hooks_message_never_reaches_the_error_or_the_log(caplog: pytest.LogCaptureFixture):
    """A hook's exception text went verbatim into HookError and the log line."""
    from funnel import Hooks
    from funnel.exceptions import HookError

    hooks = Hooks()

    @hooks.on_any
    def mail_owner(t: object) -> None:
        raise RuntimeError("could not reach ada.park@acme.example on +44 20 7946 0958")

    with caplog.at_level("ERROR", logger="funnel.hooks"), pytest.raises(HookError) as err:
        fire(_prospect(), "open_opportunity", at=T0 + timedelta(days=1), hooks=hooks)
    for text in (str(err.value), repr(err.value.to_dict()), caplog.text):
        assert "ada.park" not in text
        assert "7946" not in text
    assert "RuntimeError" in caplog.text


def test_mask_email_masks_every_address_and_hides_display_names():
    from funnel._base.privacy import mask_email

    masked = mask_email("Ada Park <ada.park@acme.example>; bo@beta.example")
    assert "Ada" not in masked
    assert "park" not in masked
    assert "bo@" not in masked
    assert masked == "'a***@acme.example, ***@beta.example'"  # "bo": no character shown


@pytest.mark.parametrize(
    "text",
    ["x" * 200_000, "x" * 100_000 + "@" + "y" * 100_000, "a@" * 100_000, ";" * 200_000],
    ids=["no-at", "one-at", "many-ats", "separators"],
)
def test_masking_a_long_text_is_linear(text: str) -> None:
    """The address pattern backtracked once per character: 16,000 characters took 3.6 s,
    200,000 would take minutes, and every FunnelError masks its message with it."""
    from funnel._base.privacy import mask_addresses

    masked = mask_addresses(text)
    assert len(masked) <= len(text) + text.count("@") * 3
    error = funnel.ValidationError(f"Company: annual_revenue got {text}")
    assert "annual_revenue" in str(error)


def test_masking_still_finds_addresses_inside_text() -> None:
    from funnel._base.privacy import mask_addresses

    assert mask_addresses("(ada@acme.example),bo@b.example;x") == (
        "(a***@acme.example),***@b.example;x"
    )
    assert mask_addresses("a@b@c") == "***@b@c"


@pytest.mark.parametrize(
    "make",
    [
        lambda v: Touch(id="t1", at=T0, direction=v, channel="email"),
        lambda v: Touch(id="t1", at=T0, direction="inbound", channel=v),
        lambda v: Touch(id="t1", at=T0, direction="inbound", channel="call", connected=v),
        lambda v: Evidence(criterion="fit", verdict=v, source="rep:x", at=T0),
        lambda v: funnel.Criterion(key=v, name="X"),
        lambda v: Lead(id="L1", contact=Contact(name="Ada"), source="x", created_at=T0, level=v),
        lambda v: Company(name="Acme", annual_revenue=v),
        lambda v: funnel.PassRule(v),
        lambda v: funnel.Consent(opted_out=v),
        lambda v: funnel.advance(_prospect(), v, at=T0 + timedelta(days=1)),
        lambda v: funnel.convert(_prospect(), at=T0, event=v),  # type: ignore[arg-type]
        lambda v: Hooks().on_event(v),
        lambda v: Hooks().on_enter(v),
        lambda v: Hooks(errors=v),
        lambda v: funnel.spec.guards.GUARDS.extend().unregister(v),
        lambda v: funnel.loads_funnel("", format=v),
    ],
)
@pytest.mark.parametrize("value", [PHONE, "Ada Lovelace", EMAIL], ids=["phone", "name", "email"])
def test_a_personal_value_in_the_wrong_field_is_not_repeated(make: object, value: str) -> None:
    """Enum, flag, key, money and event errors repeated what they were given (40 chars)."""
    with pytest.raises(funnel.FunnelError) as info:
        make(value)  # type: ignore[operator]
    for text in (str(info.value), repr(info.value), repr(info.value.to_dict())):
        _assert_masked(text)
        assert "Lovelace" not in text


def test_a_misspelt_name_is_still_shown() -> None:
    with pytest.raises(funnel.ValidationError, match="got 'sideways'"):
        Touch(id="t1", at=T0, direction="sideways", channel="email")  # type: ignore[arg-type]
    with pytest.raises(funnel.TransitionError, match="cannot mark_sq1"):
        funnel.advance(_prospect(), "mark_sq1", at=T0 + timedelta(days=1))  # type: ignore[call-overload]


def test_an_event_that_is_not_a_name_stays_out_of_to_dict() -> None:
    """to_dict() carried the raw event (masking covered the message only)."""
    with pytest.raises(funnel.TransitionError) as info:
        funnel.fire(_prospect(), PHONE, at=T0 + timedelta(days=1))
    body = info.value.to_dict()
    assert body["event"] == "(not shown: not a name)"
    _assert_masked(repr(body))


def test_a_hook_is_named_by_its_qualified_name_never_its_repr(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A partial or a callable object was named by repr(), which shows its bound arguments."""
    import functools

    def notify(t: object, *, to: str) -> None:
        raise RuntimeError("unreachable")

    hooks = Hooks()
    hooks.on_any(functools.partial(notify, to=EMAIL + " " + PHONE))
    with caplog.at_level("ERROR"), pytest.raises(HookError) as info:
        fire(_prospect(), "open_opportunity", at=T0 + timedelta(days=1), hooks=hooks)
    for text in (str(info.value), repr(info.value.to_dict()), caplog.text):
        _assert_masked(text)
    assert "partial on open_opportunity: RuntimeError" in str(info.value)


def test_a_hook_that_is_not_callable_is_refused_when_registered() -> None:
    with pytest.raises(funnel.ValidationError, match="a hook must be callable, got str"):
        Hooks().on_any(PHONE)  # type: ignore[type-var]


# ------------------------------------------------------------------ cards (funnel._base.markup)

_LOCAL = st.from_regex(r"[a-z][a-z0-9._+-]{2,15}", fullmatch=True)
_DOMAIN = st.from_regex(r"[a-z]{2,10}\.(example|com|org)", fullmatch=True)
_FILLER = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="@"), max_size=40
)


@given(before=_FILLER, local=_LOCAL, domain=_DOMAIN, after=_FILLER)
def test_every_address_in_a_shown_value_is_masked(
    before: str, local: str, domain: str, after: str
) -> None:
    address = f"{local}@{domain}"
    shown = esc(f"{before} {address} {after}", limit=10_000)
    assert address not in shown
    assert f"{local[0]}***@{domain}" in shown


@given(
    country=st.integers(1, 999),
    area=st.integers(10, 9999),
    number=st.integers(100_000, 99_999_999),
    sep=st.sampled_from([" ", "-", " (", ") ", "."]),
)
def test_every_phone_number_in_a_shown_value_is_masked(
    country: int, area: int, number: int, sep: str
) -> None:
    phone = f"+{country}{sep}{area}{sep}{number}"
    shown = plain(f"call {phone} now", limit=10_000)
    assert str(number) not in shown
    assert shown.startswith("call ")
    assert shown.endswith(" now")
    assert f"***{str(number)[-2:]}" in shown


@pytest.mark.parametrize(
    "text",
    [
        "on 2026-09-01 at 10:30",
        "revenue 5000000 (min 1000000)",
        "120 employees (min 50)",
        "2026-09-01T10:00:00+00:00",
        "4/4 met",
        "budget 1234567.89, ratio 0.5555555, pi 3.14159265",
        "paid 12500000.00.",
    ],
)
def test_dates_amounts_and_counts_are_not_taken_for_phone_numbers(text: str) -> None:
    assert mask_phones(text) == text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("call 555.010.9999.", "call ***99."),
        ("tel.555-010-9999", "tel.***99"),
        ("+1.555.010.9999 or 555.010.9998", "***99 or ***98"),
    ],
)
def test_phone_numbers_written_with_dots_are_masked(text: str, shown: str) -> None:
    """555.010.9999 went through unmasked: dots were not among the separators."""
    assert mask_phones(text) == shown


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=500))
def test_a_shown_value_is_one_escaped_line_of_bounded_length(text: str) -> None:
    shown = esc(text, limit=80)
    assert not set(shown) & set("<>\"'\n\r\x1b\u202e\u2028\x00")
    assert len(html.unescape(shown)) <= 80 + 10 * shown.count("\\")  # escapes may lengthen


def test_secrets_are_masked_as_whole_words_ignoring_case() -> None:
    secrets = ["Ada Lovelace", "ada.lovelace@acme.example", "+44 20 7946 0958", "CTO"]
    text = "ADA LOVELACE, lovelace, Adam, ada.lovelace@acme.example, room 7946, cto, CTOs"
    shown = redact(text, secrets)
    assert shown == "A***, l***, Adam, a***@acme.example, room 7946, c***, CTOs"
    assert redact("call 44 20 7946 0958 or 442079460958", secrets) == "call ***58 or ***58"


SECRET_NOTE = "called Ada Lovelace on +44 20 7946 0000, ada@acme.example"


def test_free_text_shows_by_length_in_reprs() -> None:
    """Notes and reasons quote people: a repr of a touch, evidence or change hides them."""
    from funnel.model.history import StageChange

    touch = Touch(id="t", at=T0, direction="inbound", channel="email", note=SECRET_NOTE)
    found = Evidence(criterion="fit", verdict="met", source="rep", at=T0, note=SECRET_NOTE)
    change = StageChange(from_stage="a", to_stage="b", event="go", at=T0, why=SECRET_NOTE)
    for shown in (repr(touch), repr(found), repr(change)):
        assert "Lovelace" not in shown
        assert "7946" not in shown
        assert "ada@" not in shown
        assert f"<text, {len(SECRET_NOTE)} characters>" in shown
    assert touch.note == found.note == change.why == SECRET_NOTE  # the field keeps it


def test_a_refused_fit_does_not_quote_the_evidence_note() -> None:
    lead = Lead(id="L1", contact=Contact(name="Ada Lovelace"), source="web", created_at=T0)
    lead = funnel.add_evidence(
        lead, Evidence(criterion="fit", verdict="not-met", source="rep", at=T0, note=SECRET_NOTE)
    )
    reasons = funnel.explain(lead, at=T0 + timedelta(days=1))
    text = repr(reasons) + str(reasons) + reasons._repr_html_()
    for event in ("mark_mql", "mark_sql", "convert"):
        try:
            funnel.fire(lead, event, at=T0 + timedelta(days=1))
        except funnel.FunnelError as exc:
            text += str(exc)
    assert "fit is not-met (recorded by rep on 2026-03-01)" in text
    assert "Lovelace" not in text
    assert "7946" not in text
    assert "ada@" not in text


def test_a_refused_time_does_not_echo_an_event_that_is_not_a_name() -> None:
    """Found by the fuzz: a phone number passed as the event was echoed by the time check."""
    lead = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=T0)
    with pytest.raises(ChronologyError) as err:
        funnel.advance(lead, "+44 20 7946 0958", at=T0 - timedelta(days=1))  # type: ignore[call-overload]
    assert "7946" not in str(err.value)
    assert "7946" not in repr(err.value.to_dict())


def test_a_note_naming_someone_else_reaches_no_log_error_or_blocker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Found in review: a note's 'Bob Smith (CFO)' reached the log, to_dict() and blockers."""
    lead = Lead(id="L1", contact=Contact(name="Ada Lovelace"), source="web", created_at=T0)
    note = "spoke to Bob Smith (CFO)"
    lead = funnel.add_evidence(
        lead, Evidence(criterion="fit", verdict="not-met", source="rep:maria", at=T0, note=note)
    )
    caplog.set_level(logging.INFO, logger="funnel")
    with pytest.raises(funnel.TransitionError) as err:
        funnel.convert(lead, at=T0 + timedelta(days=1))
    shown = [
        caplog.text,
        str(err.value),
        repr(err.value.to_dict()),
        *err.value.reasons,
        *funnel.explain(lead, at=T0 + timedelta(days=1)).blockers,
        *(str(getattr(r, "__dict__", "")) for r in caplog.records),
    ]
    assert any("fit: not-met (rep:maria on 2026-03-01)" in s for s in shown)
    for text in shown:
        assert "Bob" not in text


def test_an_unknown_event_that_is_not_a_name_reads_well_and_stays_hidden() -> None:
    """Found in review: 'has no event a string that is not a name (not shown)'."""
    lead = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=T0)
    with pytest.raises(funnel.TransitionError) as err:
        funnel.fire(lead, "+44 20 7946 0958", at=T0)
    text = str(err.value)
    assert "has no event by that name (not shown: not a name)" in text
    assert "7946" not in text


# ------------------------------------------------- masks keep no token of the value (review)

_PHONES = st.builds(
    lambda fmt, cc, a, b, c: fmt.format(cc=cc, a=a, b=b, c=c),
    st.sampled_from(
        [
            "({a}) {b}-{c}",
            "+{cc} ({a}) {b}-{c}",
            "+{cc} {a} {b} {c}",
            "{a}-{b}-{c}",
            "+{cc}{a}{b}{c}",
            "{a} {b} {c}",
        ]
    ),
    st.integers(1, 99),
    st.integers(100, 999).map(str),
    st.integers(100, 999).map(str),
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
)
_NAMES = st.from_regex(r"[A-Z][a-z]{1,10}( [A-Z][a-z]{1,12})?", fullmatch=True)
_EMAILS = st.tuples(st.from_regex(r"[a-z][a-z0-9._+-]{0,15}", fullmatch=True), _DOMAIN)


def _runs(digits: str, n: int = 3) -> set[str]:
    return {digits[i : i + n] for i in range(len(digits) - n + 1)}


def _no_digit_run_of(phone: str, shown: str) -> None:
    digits = "".join(c for c in phone if c.isdigit())
    shown_digits = "".join(c if c.isdigit() else " " for c in shown)
    for run in shown_digits.split():
        assert not _runs(run) & _runs(digits), (phone, shown)


@given(phone=_PHONES, name=_NAMES, email=_EMAILS)
def test_a_contact_s_repr_and_cards_keep_no_token_of_its_values(
    phone: str, name: str, email: tuple[str, str]
) -> None:
    """(555) 010-9999 was shown as "(***99" in a card: a dangling bracket (review)."""
    local, domain = email
    address = f"{local}@{domain}"
    contact = funnel.Contact(name=name, email=address, phone=phone)
    for shown in (
        repr(contact),
        plain(f"call {phone} or write to {address}, {name}", limit=10_000),
        plain(f"({phone})", limit=10_000),
        redact(f"{name} on {phone}: {address}", [name, phone, address]),
    ):
        _no_digit_run_of(phone, shown)
        assert f"{local}@" not in shown
        shown_locals = re.findall(rf"([^\s'\",()]*)@{re.escape(domain)}", shown)
        assert shown_locals or shown.startswith("("), shown
        assert set(shown_locals) <= {"***", f"{local[0]}***"}, shown
        assert all(local not in shown_local for shown_local in shown_locals if len(local) >= 2)
        assert shown.count("(") == shown.count(")"), shown  # no dangling bracket
    for word in name.split():
        assert word not in mask_name(name)
        assert word not in redact(f"{name} on {phone}", [name])
    assert mask_phone(phone).strip("'").removeprefix("***").isdigit()
    assert len(mask_phone(phone)) == len("'***99'")


def test_an_erased_contact_shows_a_marker() -> None:
    """An erased name showed as name='[***' in reprs (review)."""
    from datetime import UTC, datetime

    from funnel.engine.erase import erase

    at = datetime(2026, 3, 1, tzinfo=UTC)
    lead = funnel.Lead(
        id="L1",
        contact=funnel.Contact(name="Ada Lovelace", phone="(555) 010-9999"),
        source="web",
        created_at=at,
    )
    assert "phone='***99'" in repr(lead)
    gone = erase(funnel.advance(lead, "disqualify", at=at, why="asked"), at=at)
    assert "name=<erased>" in repr(gone.contact)
    assert "[***" not in repr(gone)
    assert "why=<erased>" in repr(gone.history)
    assert Redactor.of(gone)("[erased] said no") == "[erased] said no"


def test_no_phone_number_in_an_id_reaches_a_model_message() -> None:
    """Found in review: messages quoted ids raw, e.g. "replies to unknown touch '+44 ...'"."""
    from datetime import UTC, datetime

    from funnel.exceptions import FunnelError
    from funnel.model.touch import check_touches

    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    phone = "+44 20 7946 0958"
    reply = Touch(id="t", at=t0, direction="inbound", channel="email", in_reply_to=phone)
    with pytest.raises(FunnelError) as caught:
        check_touches((reply,))
    assert "7946" not in str(caught.value), str(caught.value)
    with pytest.raises(FunnelError) as caught:
        Evidence(criterion=phone, verdict="sideways", source="rep:a", at=t0)  # type: ignore[arg-type]
    assert "7946" not in str(caught.value), str(caught.value)
    with pytest.raises(FunnelError) as caught:
        Company(name=f"Ada Lovelace {phone}", employees=-1)
    assert "7946" not in str(caught.value), str(caught.value)
    assert "7946" not in repr(caught.value.to_dict())


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("ext 555-010-9999x123 now", "ext ***99 now"),
        ("+1 555 010 9999 ext. 12", "***99"),
        ("Berlin 030/1234567", "Berlin ***67"),
        ("555 - 010 - 9999", "***99"),
        ("555\u00a0010\u00a09999", "***99"),
        ("555\u2013010\u20139999", "***99"),
    ],
)
def test_phone_numbers_with_extensions_slashes_and_unicode_separators_are_masked(
    text: str, shown: str
) -> None:
    """An extension glued on (x123) kept the whole number; slashes and NBSPs were not seen."""
    assert mask_phones(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "on 01.09.2026, 2026.09.01, 2026 09 01 or 01/09/2026",
        "lead 9f1c2e4a-1234-5678-9012-3456789abcde",
    ],
)
def test_dates_and_uuids_are_not_taken_for_phone_numbers(text: str) -> None:
    """A UUID with two all-digit groups was masked in the middle (9f1c2e4a-***12-...)."""
    assert mask_phones(text) == text


PHONE_IDS = ("555-010-9999", "555.010.9999", "+44 20 7946 0958")


@pytest.mark.parametrize("rid", PHONE_IDS)
def test_log_lines_mask_a_lead_id_that_is_a_phone_number(
    rid: str, caplog: pytest.LogCaptureFixture
) -> None:
    """transitions' log lines (and their extra) masked e-mail ids only."""
    lead = Lead(id=rid, contact=Contact(name="Ada"), source="web", created_at=T0)
    with caplog.at_level(logging.INFO, logger="funnel"), pytest.raises(funnel.FunnelError):
        funnel.advance(lead, "win", at=T0 + timedelta(days=1))
    assert caplog.records
    assert rid not in caplog.text
    assert all(rid not in str(getattr(r, "funnel_record_id", "")) for r in caplog.records)


@pytest.mark.parametrize("rid", PHONE_IDS)
def test_errors_and_problem_details_mask_a_record_id_that_is_a_phone_number(rid: str) -> None:
    """RecordNotFound and to_dict()["record"] showed a phone-number id in full."""
    store = SqlStore(sa.create_engine("sqlite://"))
    store.create_schema()
    with pytest.raises(funnel.FunnelError) as info:
        store.get(rid)
    shown = [str(info.value), info.value.summary, json.dumps(info.value.to_dict())]
    lead = Lead(id=rid, contact=Contact(name="Ada"), source="web", created_at=T0)
    with pytest.raises(funnel.FunnelError) as moved:
        funnel.advance(lead, "win", at=T0 + timedelta(days=1))
    shown += [str(moved.value), json.dumps(moved.value.to_dict())]
    assert all(rid not in text for text in shown), shown
