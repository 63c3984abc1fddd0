"""Engagement is derived from touches by fixed rules."""

from __future__ import annotations

from funnel import Touch
from funnel.model.engagement import Engagement, assess_engagement, engagement
from tests.helpers import day, form, outbound, reply


class TestEngagement:
    def test_no_touches_is_none(self):
        """No touch at all means no engagement."""
        assert engagement([]) == Engagement.NONE

    def test_form_fill_is_one_way(self):
        """A form fill alone is one-way."""
        assert engagement([form("f", 0)]) == Engagement.ONE_WAY

    def test_mass_mail_is_one_way_however_many(self):
        """Any number of mass mailings stays one-way."""
        mails = [
            Touch(id=f"m{i}", at=day(i), direction="outbound", channel="email", reach="mass")
            for i in range(5)
        ]
        assert engagement(mails) == Engagement.ONE_WAY

    def test_reply_to_company_touch_is_two_way(self):
        """An inbound reply to an outbound touch makes it two-way, naming both touches."""
        finding = assess_engagement([outbound("o", 0), reply("r", 1, "o")])
        assert finding.level == Engagement.TWO_WAY
        assert finding.touch is not None
        assert finding.touch.id == "r"
        assert "'o'" in finding.reason

    def test_reply_to_inbound_touch_is_not_two_way(self):
        """An inbound touch answering the person's own inbound touch is not a dialogue."""
        first = form("f", 0)
        again = Touch(id="g", at=day(1), direction="inbound", channel="email", in_reply_to="f")
        assert engagement([first, again]) == Engagement.ONE_WAY

    def test_outbound_reply_is_not_two_way(self):
        """The company answering the person is not yet the person answering the company."""
        first = form("f", 0)
        answer = Touch(id="a", at=day(1), direction="outbound", channel="email", in_reply_to="f")
        assert engagement([first, answer]) == Engagement.ONE_WAY

    def test_connected_call_is_two_way(self):
        """A call that took place is two-way, in either direction."""
        call = Touch(id="c", at=day(0), direction="outbound", channel="call", connected=True)
        assert engagement([call]) == Engagement.TWO_WAY

    def test_unanswered_call_is_one_way(self):
        """A call nobody answered is one-way."""
        call = Touch(id="c", at=day(0), direction="outbound", channel="call")
        assert engagement([call]) == Engagement.ONE_WAY

    def test_order_of_input_does_not_matter(self):
        """The finding does not depend on the order touches are given in."""
        touches = [reply("r", 1, "o"), outbound("o", 0), form("f", 2)]
        assert assess_engagement(touches) == assess_engagement(list(reversed(touches)))
