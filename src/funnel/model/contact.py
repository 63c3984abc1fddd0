"""
Who is in the funnel: the company (firmographics) and the contact person.

These records hold only what qualification rules read and what CRM code
needs to reach a person, including their consent. Email and phone are masked
in ``repr()`` so that they do not leak into logs.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from funnel._money import optional_money
from funnel._privacy import mask_email, mask_phone
from funnel.exceptions import ValidationError


def _nonempty(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValidationError(f"{type(instance).__name__}.{attribute.name} must not be empty")


def _lower_or_none(value: str | None) -> str | None:
    return value.strip().lower() if value is not None else None


@attrs.frozen(kw_only=True)
class Company:
    """
    A company and the firmographics qualification rules read.

    Attributes:
        name: The company's name.
        industry: Industry or sector, lower-cased (e.g. ``"software"``).
        employees: Head count, if known.
        annual_revenue: Yearly revenue in the funnel's currency, if known.
        region: Market region or country code (e.g. ``"EU"``, ``"US"``).
        domain: Web or email domain (e.g. ``"acme.example"``), lower-cased.

    >>> Company(name="Acme", industry="Software", employees=120).industry
    'software'
    """

    name: str = attrs.field(validator=[attrs.validators.instance_of(str), _nonempty])
    industry: str | None = attrs.field(default=None, converter=_lower_or_none)
    employees: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(
            [attrs.validators.instance_of(int), attrs.validators.ge(0)]
        ),
    )
    annual_revenue: Decimal | None = attrs.field(
        default=None,
        converter=optional_money,  # type: ignore[misc]  # mypy plugin: attrs.Converter
        validator=attrs.validators.optional(attrs.validators.ge(Decimal(0))),
    )
    region: str | None = None
    domain: str | None = attrs.field(default=None, converter=_lower_or_none)


@attrs.frozen(kw_only=True)
class Consent:
    """
    What a contact agreed to.

    Attributes:
        opted_out: The contact unsubscribed from mass (marketing) communication.
        do_not_contact: No communication of any kind is allowed.

    Consent is kept when a lead becomes a prospect.
    """

    opted_out: bool = False
    do_not_contact: bool = False

    @property
    def allows_mass(self) -> bool:
        """Whether mass, automated communication is allowed."""
        return not (self.opted_out or self.do_not_contact)

    @property
    def allows_personal(self) -> bool:
        """Whether a rep may contact the person individually."""
        return not self.do_not_contact


@attrs.frozen(kw_only=True)
class Contact:
    """
    A person at a company, reachable by the funnel.

    Attributes:
        name: The person's name.
        email: Email address, if known (masked in ``repr``).
        phone: Phone number, if known (masked in ``repr``).
        title: Job title, e.g. ``"Head of Operations"``.
        company: The company the person works for.
        consent: What the person agreed to.

    >>> ada = Contact(name="Ada", email="ada.lovelace@acme.example", phone="+44 20 7946 0958")
    >>> "lovelace" in repr(ada), "7946" in repr(ada)
    (False, False)
    >>> ada.email
    'ada.lovelace@acme.example'
    """

    name: str = attrs.field(validator=[attrs.validators.instance_of(str), _nonempty])
    email: str | None = attrs.field(default=None, repr=mask_email)
    phone: str | None = attrs.field(default=None, repr=mask_phone)
    title: str | None = None
    company: Company | None = None
    consent: Consent = Consent()
