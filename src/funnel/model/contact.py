"""
Who is in the funnel: the company (firmographics) and the contact person.

These records hold only what qualification rules read and what CRM code
needs to reach a person, including their consent. Email and phone are masked
in ``repr()`` so that they do not leak into logs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import attrs

from funnel._base.fields import boolean, count, instance, non_negative_money, text
from funnel._base.markup import label_repr, short_repr
from funnel._base.money import optional_money
from funnel._base.privacy import mask_email, mask_name, mask_phone

__all__ = ("Company", "Consent", "Contact")


def _lower_or_none(value: str | None) -> str | None:
    # Anything but a string is handed on unchanged for the field's validator to refuse.
    return value.strip().lower() if isinstance(value, str) else value


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
    >>> Company(name="Acme", employees=-5)
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: Company 'Acme': employees must be >= 0, got -5
    """

    _label_field: ClassVar[str] = "name"

    name: str = attrs.field(repr=label_repr, validator=text(blank=False))
    industry: str | None = attrs.field(
        default=None, converter=_lower_or_none, validator=text(optional=True)
    )
    employees: int | None = attrs.field(default=None, validator=count(optional=True))
    annual_revenue: Decimal | None = attrs.field(
        default=None,
        converter=optional_money,  # type: ignore[misc]  # mypy plugin: attrs.Converter
        validator=non_negative_money(),
    )
    region: str | None = attrs.field(default=None, validator=text(optional=True))
    domain: str | None = attrs.field(
        default=None, converter=_lower_or_none, validator=text(optional=True)
    )

    # Bounded, with an address or phone number put in the name masked.
    __repr__ = short_repr


@attrs.frozen(kw_only=True)
class Consent:
    """
    What a contact agreed to.

    Attributes:
        opted_out: The contact unsubscribed from mass (marketing) communication.
        do_not_contact: No communication of any kind is allowed.

    Consent is kept when a lead becomes a prospect.
    """

    opted_out: bool = attrs.field(default=False, validator=boolean())
    do_not_contact: bool = attrs.field(default=False, validator=boolean())

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
        name: The person's name (its first letter only in ``repr``).
        email: Email address, if known (masked in ``repr``).
        phone: Phone number, if known (masked in ``repr``).
        title: Job title, e.g. ``"Head of Operations"`` (masked in ``repr``).
        company: The company the person works for.
        consent: What the person agreed to.

    >>> ada = Contact(name="Ada", email="ada.lovelace@acme.example", phone="+44 20 7946 0958")
    >>> "lovelace" in repr(ada), "7946" in repr(ada), "Ada" in repr(ada)
    (False, False, False)
    >>> ada.email
    'ada.lovelace@acme.example'

    Errors never show personal data, only its type:

    >>> Contact(name="Ada", email=123)
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: Contact: email must be a string or None, got int
    """

    #: A contact is named by its class only: its name is personal data.
    _label_field: ClassVar[None] = None

    name: str = attrs.field(repr=mask_name, validator=text(blank=False))
    email: str | None = attrs.field(default=None, repr=mask_email, validator=text(optional=True))
    phone: str | None = attrs.field(default=None, repr=mask_phone, validator=text(optional=True))
    title: str | None = attrs.field(default=None, repr=mask_name, validator=text(optional=True))
    company: Company | None = attrs.field(default=None, validator=instance(Company, optional=True))
    consent: Consent = attrs.field(default=Consent(), validator=instance(Consent))

    # Bounded field by field (a long company name cannot make it long).
    __repr__ = short_repr
