"""Touch records validate themselves and their relations."""

from __future__ import annotations

from datetime import datetime

import pytest

from funnel import Touch, ValidationError
from funnel.model.touch import Channel, Direction, Reach, check_touches
from tests.helpers import day, outbound, reply


class TestTouch:
    def test_strings_convert_to_enums(self):
        """Direction, channel and reach accept their string values."""
        t = Touch(id="t", at=day(0), direction="inbound", channel="form", reach="mass")
        assert (t.direction, t.channel, t.reach) == (Direction.INBOUND, Channel.FORM, Reach.MASS)

    @pytest.mark.parametrize("value", ["no", "false", 0, 1, None])
    def test_connected_must_be_a_bool(self, value: object):
        """A CRM's "no" string must not count as a real conversation."""
        with pytest.raises(ValidationError, match=r"Touch 'c': connected must be True or False"):
            Touch(id="c", at=day(0), direction="outbound", channel="call", connected=value)  # type: ignore[arg-type]

    def test_unknown_channel_is_refused(self):
        """A channel outside the enum raises ValueError."""
        with pytest.raises(ValueError, match="pigeon"):
            Touch(id="t", at=day(0), direction="inbound", channel="pigeon")  # type: ignore[arg-type]

    def test_naive_datetime_is_refused(self):
        """A naive timestamp raises, naming the field."""
        with pytest.raises(ValueError, match=r"Touch\.at must be timezone-aware"):
            Touch(id="t", at=datetime(2026, 1, 1), direction="inbound", channel="form")  # noqa: DTZ001

    def test_connected_only_for_live_channels(self):
        """connected=True on an email is refused, naming the touch."""
        with pytest.raises(ValueError, match=r"'t'.*calls and meetings"):
            Touch(id="t", at=day(0), direction="inbound", channel="email", connected=True)

    def test_reply_to_itself_is_refused(self):
        """A touch cannot answer itself."""
        with pytest.raises(ValueError, match="cannot reply to itself"):
            Touch(id="t", at=day(0), direction="inbound", channel="email", in_reply_to="t")


class TestCheckTouches:
    def test_duplicate_ids(self):
        """Two touches with one id are refused, naming the owner and the id."""
        with pytest.raises(ValueError, match="Lead 'x': duplicate touch id 'o'"):
            check_touches((outbound("o", 0), outbound("o", 1)), "Lead 'x'")

    def test_reply_to_unknown(self):
        """A reply to a touch that is not there is refused."""
        with pytest.raises(ValueError, match="replies to unknown touch 'zz'"):
            check_touches((reply("r", 1, "zz"),), "Lead 'x'")

    def test_reply_before_original(self):
        """A reply earlier than what it answers is refused."""
        with pytest.raises(ValueError, match="which is later"):
            check_touches((outbound("o", 5), reply("r", 1, "o")), "Lead 'x'")
