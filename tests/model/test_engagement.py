"""Engagement is derived from touches by fixed rules."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings

import funnel.model.engagement as engagement_module
from funnel import Touch, ValidationError
from funnel.model.engagement import REPLY_CHANNELS, Engagement, assess_engagement, engagement
from funnel.model.touch import LIVE_CHANNELS, ChannelName, Direction, DirectionName, Reach
from tests.helpers import day, form, outbound, reply
from tests.strategies import touches


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


class TestOnlyConversationalRepliesCount:
    """Issue 11: an automated or non-conversational inbound touch never opens a dialogue."""

    @staticmethod
    def _campaign() -> Touch:
        return Touch(id="m1", at=day(0), direction="outbound", channel="email", reach="mass")

    @pytest.mark.parametrize("channel", ["form", "ad", "event", "meeting"])
    def test_non_conversational_inbound_reply_is_one_way(self, channel: ChannelName):
        """A form fill, ad click, event sign-up or unheld meeting naming a mail is one-way."""
        answer = Touch(id="f", at=day(1), direction="inbound", channel=channel, in_reply_to="m1")
        finding = assess_engagement([self._campaign(), answer])
        assert finding.level == Engagement.ONE_WAY
        assert finding.reason.endswith(
            f"; {channel} 'f' names 'm1' but {channel} is not a conversational channel"
        )

    @pytest.mark.parametrize("channel", ["email", "chat", "social", "mail", "call"])
    def test_mass_inbound_reply_is_one_way(self, channel: ChannelName):
        """An automated inbound touch (reach="mass") stays one-way whatever it links to."""
        answer = Touch(
            id="a", at=day(1), direction="inbound", channel=channel, reach="mass", in_reply_to="m1"
        )
        finding = assess_engagement([self._campaign(), answer])
        assert finding.level == Engagement.ONE_WAY
        assert finding.reason.endswith(
            f"; {channel} 'a' names 'm1' but it is automated (reach mass)"
        )

    @pytest.mark.parametrize("channel", ["email", "chat", "social", "mail"])
    def test_personal_conversational_reply_is_two_way(self, channel: ChannelName):
        """A personal answer on a conversational channel to any outbound touch is two-way."""
        answer = Touch(id="a", at=day(1), direction="inbound", channel=channel, in_reply_to="m1")
        finding = assess_engagement([self._campaign(), answer])
        assert finding.level == Engagement.TWO_WAY
        assert finding.touch == answer

    def test_a_missed_call_back_is_not_a_dialogue(self):
        """An inbound call that did not connect, naming a mail, is the person trying: one-way."""
        missed = Touch(id="a", at=day(1), direction="inbound", channel="call", in_reply_to="m1")
        assert engagement([self._campaign(), missed]) == Engagement.ONE_WAY

    @pytest.mark.parametrize(
        ("channel", "direction"), [("call", "outbound"), ("meeting", "inbound")]
    )
    def test_a_connected_mass_call_or_meeting_is_one_way(
        self, channel: ChannelName, direction: DirectionName
    ):
        """A robo-dialer that connected, or a webinar attended, is not a conversation."""
        live = Touch(
            id="c", at=day(1), direction=direction, channel=channel, reach="mass", connected=True
        )
        assert engagement([live]) == Engagement.ONE_WAY
        personal = attrs.evolve(live, reach="personal")
        assert engagement([personal]) == Engagement.TWO_WAY

    def test_reply_channels_are_documented(self):
        """The module docstring names exactly the channels that can carry a reply."""
        doc = engagement_module.__doc__ or ""
        assert {c.value for c in REPLY_CHANNELS} == {"email", "chat", "social", "mail"}
        for channel in REPLY_CHANNELS:
            assert f"``{channel.value}``" in doc

    @settings(max_examples=300, deadline=None)
    @given(touches())
    def test_two_way_only_with_a_real_dialogue(self, made: tuple[Touch, ...]):
        """Property: two-way exactly when a personal conversational reply or live touch exists."""
        by_id = {t.id: t for t in made}
        dialogue = any(
            (t.connected and t.channel in LIVE_CHANNELS and t.reach is Reach.PERSONAL)
            or (
                t.direction is Direction.INBOUND
                and t.reach is Reach.PERSONAL
                and t.channel in REPLY_CHANNELS
                and t.in_reply_to is not None
                and by_id[t.in_reply_to].direction is Direction.OUTBOUND
            )
            for t in made
        )
        assert (engagement(made) == Engagement.TWO_WAY) == dialogue

    @settings(max_examples=200, deadline=None)
    @given(touches())
    def test_automated_inbound_never_makes_two_way(self, made: tuple[Touch, ...]):
        """Property: with every reply made automated and every call unheld, nothing is two-way."""
        stripped = [
            attrs.evolve(t, reach="mass", connected=False)
            if t.direction is Direction.INBOUND
            else attrs.evolve(t, connected=False)
            for t in made
        ]
        assert engagement(stripped) != Engagement.TWO_WAY


class TestTouchesAreChecked:
    """Issue 11: assess_engagement refuses the touch lists a record refuses."""

    def test_reply_before_original_is_refused(self):
        """A reply dated before the touch it answers is no dialogue: it is an error."""
        with pytest.raises(
            ValidationError, match=r"touch 'r' at .* replies to 'o', which is later"
        ):
            assess_engagement([outbound("o", 5), reply("r", 1, "o")])

    def test_duplicate_ids_are_refused(self):
        with pytest.raises(ValidationError, match="duplicate touch id 'o'") as info:
            engagement([outbound("o", 0), outbound("o", 1)])
        assert info.value.field == "touches"

    def test_reply_to_unknown_is_refused(self):
        with pytest.raises(ValidationError, match="touch 'r' replies to unknown touch 'zz'"):
            assess_engagement([reply("r", 1, "zz")])

    def test_message_has_no_personal_data(self):
        """The error names touch ids and times, never the contact or the note."""
        secret = Touch(
            id="r",
            at=day(1),
            direction="inbound",
            channel="email",
            in_reply_to="o",
            sender="ada.lovelace@acme.example",
            note="call me on +44 20 7946 0958",
        )
        with pytest.raises(ValidationError) as info:
            assess_engagement([outbound("o", 5), secret])
        text = str(info.value) + repr(info.value.to_dict())
        assert "lovelace" not in text
        assert "7946" not in text

    def test_one_implementation(self, monkeypatch: pytest.MonkeyPatch):
        """assess_engagement uses check_touches itself: the two cannot drift apart."""
        seen: list[tuple[str, ...]] = []

        def spy(touches: tuple[Touch, ...], owner: str | None = None) -> None:
            seen.append(tuple(t.id for t in touches))

        monkeypatch.setattr(engagement_module, "check_touches", spy)
        assess_engagement([outbound("o", 0), reply("r", 1, "o")])
        assert seen == [("o", "r")]
