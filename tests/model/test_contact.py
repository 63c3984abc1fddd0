"""Company, Contact and Consent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from funnel import Company, Consent, Contact


class TestCompany:
    def test_normalises(self):
        """Industry and domain are lower-cased; revenue becomes a Decimal."""
        c = Company(
            name="Acme", industry=" Software ", domain="ACME.example", annual_revenue="12.5"
        )
        assert ("software", "acme.example", Decimal("12.5")) == (
            c.industry,
            c.domain,
            c.annual_revenue,
        )

    def test_negative_employees_refused(self):
        """Head count cannot be negative."""
        with pytest.raises(ValueError, match="employees"):
            Company(name="Acme", employees=-1)

    def test_empty_name_refused(self):
        """A company needs a name."""
        with pytest.raises(ValueError, match="Company: name must not be empty"):
            Company(name="  ")


class TestConsent:
    @pytest.mark.parametrize(
        ("consent", "mass", "personal"),
        [
            (Consent(), True, True),
            (Consent(opted_out=True), False, True),
            (Consent(do_not_contact=True), False, False),
        ],
    )
    def test_what_is_allowed(self, consent, mass, personal):
        """Opt-out blocks mass communication; do-not-contact blocks everything."""
        assert (mass, personal) == (consent.allows_mass, consent.allows_personal)


class TestContact:
    def test_repr_masks_email_and_phone(self):
        """Neither the email's local part nor the phone digits show in repr."""
        c = Contact(name="Ada", email="ada.lovelace@acme.example", phone="+44 20 7946 0958")
        text = repr(c)
        assert "ada.lovelace" not in text
        assert "7946" not in text
        assert "a***@acme.example" in text
        assert "***58" in text
