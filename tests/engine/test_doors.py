"""
The funnel's rules hold at every door: constructors, loaders, the store, explain.

Each test here names a hole found in 0.1 (issue 11): a prospect could come back as a
lead by construction, on load or in the store; ``explain().ready`` could say yes
where ``convert()`` said no.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnel
from funnel import (
    DEFAULT_FUNNEL,
    Funnel,
    Lead,
    Prospect,
    SerializationError,
    StageChange,
    TransitionError,
    ValidationError,
    convert,
    explain,
    loads_funnel,
)
from funnel.io.serialize import from_dict, to_dict
from funnel.model.engagement import EngagementFinding, assess_engagement
from funnel.model.qualification import qualify
from tests.helpers import ALL_MET, T0, day, lead, met, outbound, ready_lead, reply
from tests.strategies import records


def prospect() -> Prospect:
    return convert(ready_lead(), at=day(3))


class TestConstruction:
    def test_lead_in_a_prospect_stage_is_refused(self):
        """Lead(stage="won") made a lead out of a won customer in 0.1."""
        with pytest.raises(ValidationError, match="prospect stage 'won'") as err:
            lead(stage="won")
        assert err.value.field == "stage"
        assert err.value.record == "Lead 'L1'"

    def test_lead_whose_history_passed_through_a_prospect_stage_is_refused(self):
        history = (
            StageChange(
                from_stage="acquired", to_stage="organisation", event="convert", at=day(1)
            ),
            StageChange(
                from_stage="organisation", to_stage="lost", event="lose", at=day(2), why="x"
            ),
        )
        with pytest.raises(ValidationError, match="prospect is never a lead again"):
            lead(stage="lost", history=history)

    def test_prospect_in_a_lead_stage_is_refused(self):
        p = prospect()
        with pytest.raises(ValidationError, match="'nurturing' is a lead stage"):
            attrs.evolve(p, stage="nurturing", history=())

    def test_prospect_needs_a_passed_qualification_and_a_dialogue(self):
        """A hand-built prospect no guard checked is refused."""
        p = prospect()
        failed = qualify((), at=day(3))
        assert not failed.passed
        with pytest.raises(ValidationError, match="passed qualification"):
            attrs.evolve(p, qualification=failed)
        one_way = EngagementFinding(funnel.model.engagement.Engagement.ONE_WAY, None, "mail")
        with pytest.raises(ValidationError, match="two-way"):
            attrs.evolve(p, engagement=one_way)

    def test_negative_value_is_a_validation_error(self):
        with pytest.raises(ValidationError, match="value must be >= 0") as err:
            attrs.evolve(prospect(), value=-1)
        assert err.value.field == "value"


ACME = """
[funnel]
name = "acme"
version = "1"

[stages.new]
level = "lead"
initial = true

[stages.talking]
level = "lead"

[stages.lost]
level = "lead"
final = true
outcome = "lost"

[stages.deal]
level = "prospect"

[stages.won]
level = "prospect"
final = true
outcome = "won"

[events.talk]
from = "new"
to = "talking"

[events.drop]
from = ["new", "talking"]
to = "lost"

[events.sign]
from = "new"
to = "deal"
guards = ["is_two_way", "is_qualified"]

[events.close]
from = "deal"
to = "won"
"""


class TestLoadAndStore:
    def test_from_dict_of_a_lead_document_in_a_prospect_stage_is_refused(self):
        """A JSON document is a door too: a lead document cannot sit in stage 'won'."""
        document = to_dict(lead())
        document["data"]["stage"] = "won"
        with pytest.raises(SerializationError) as err:
            from_dict(document)
        assert "data" in err.value.path

    def test_from_dict_checks_against_the_funnel_given(self):
        """Acme's lead stage 'lost' is fine for Acme, refused for the default funnel."""
        acme = loads_funnel(ACME)
        dropped = acme.advance(lead(stage="new"), "drop", at=day(1))
        assert from_dict(to_dict(dropped), funnel=acme) == dropped
        with pytest.raises(SerializationError, match="does not fit the funnel"):
            from_dict(to_dict(dropped))

    def test_store_refuses_a_record_its_funnel_could_not_have_made(self):
        sa = pytest.importorskip("sqlalchemy")
        from funnel.io.sql import SqlStore

        acme = loads_funnel(ACME)
        store = SqlStore(sa.create_engine("sqlite://"), funnel=acme)
        store.create_schema()
        with pytest.raises(ValidationError, match="not a stage of funnel 'acme'"):
            store.add(lead())  # 'acquired' is not an Acme stage
        stored = store.add(lead(stage="new"))
        assert store.get("L1").record == stored.record
        skipped = attrs.evolve(
            stored.record,
            stage="talking",
            history=(
                StageChange(from_stage="new", to_stage="talking", event="teleport", at=day(1)),
            ),
        )
        with pytest.raises(ValidationError, match="not a transition of funnel 'acme'"):
            store.save(skipped, 1)


class TestExplainAgreesWithConvert:
    def test_stage_without_a_convert_edge_is_not_ready(self):
        """In Acme's funnel only 'new' converts: a ready lead in 'talking' is not ready."""
        acme = loads_funnel(ACME)
        talking = acme.advance(
            lead(
                stage="new",
                touches=(outbound("o1", 1), reply("r1", 2, "o1")),
                evidence=met(*ALL_MET, at=2),
            ),
            "talk",
            at=day(3),
        )
        ex = acme.explain(talking, at=day(4))
        assert not ex.ready
        assert any("no conversion event" in b for b in ex.blockers)
        with pytest.raises(TransitionError):
            acme.convert(talking, at=day(4))

    def test_a_moment_before_the_last_change_is_not_ready(self):
        """explain(at=past) said ready while convert(at=past) refused."""
        moved = DEFAULT_FUNNEL.advance(ready_lead(), "nurture", at=day(5))
        ex = explain(moved, at=day(4))
        assert not ex.ready
        assert any("precedes the last change" in b for b in ex.blockers)
        with pytest.raises(TransitionError):
            convert(moved, at=day(4))
        assert explain(moved, at=day(6)).ready
        assert convert(moved, at=day(6)).stage == "organisation"

    @settings(max_examples=150, deadline=None)
    @given(record=records(), offset=st.integers(-5, 40))
    def test_ready_is_exactly_whether_convert_succeeds(self, record, offset):
        """For any lead and moment, explain(...).ready == convert(...) succeeds."""
        if not isinstance(record, Lead):
            return
        at = T0 + timedelta(days=offset)
        ready = explain(record, at=at).ready
        try:
            convert(record, at=at)
        except (TransitionError, ValidationError):
            assert not ready
        else:
            assert ready


class TestOneDecisionOneEvaluation:
    def test_a_refused_convert_qualifies_once(self, monkeypatch: pytest.MonkeyPatch):
        """0.1 ran qualify() three times for one refused convert."""
        import funnel.spec.guards as guards

        calls: list[str] = []
        real = guards._qualify

        def counting(record, ctx):
            calls.append(record.id)
            return real(record, ctx)

        monkeypatch.setattr(guards, "_qualify", counting)
        unqualified = lead(touches=(outbound("o1", 1), reply("r1", 2, "o1")))
        with pytest.raises(funnel.exceptions.NotQualified) as err:
            convert(unqualified, at=day(3))
        assert calls == ["L1"]
        assert err.value.qualification is not None
        assert not err.value.qualification.passed
        calls.clear()
        explain(unqualified, at=day(3))
        assert calls == ["L1"]

    def test_each_guard_is_evaluated_once_per_decision(self, monkeypatch: pytest.MonkeyPatch):
        import funnel.spec.guards as guards

        counts: dict[str, int] = {}
        registry = guards.GUARDS.extend("counting")
        for name in [n for n in registry if n not in guards.CONVERSION_RULE]:
            inner = registry[name].check

            def check(record, ctx, _name=name, _inner=inner):
                counts[_name] = counts.get(_name, 0) + 1
                return _inner(record, ctx)

            registry.register(name, registry[name].description, replace=True)(check)
        real_qualify, real_engagement = guards._qualify, assess_engagement

        def qualify_counted(record, ctx):
            counts["is_qualified"] = counts.get("is_qualified", 0) + 1
            return real_qualify(record, ctx)

        def engagement_counted(touches):
            counts["is_two_way"] = counts.get("is_two_way", 0) + 1
            return real_engagement(touches)

        monkeypatch.setattr(guards, "_qualify", qualify_counted)
        monkeypatch.setattr(guards, "assess_engagement", engagement_counted)
        counting = Funnel(machine=DEFAULT_FUNNEL.machine, guards=registry)
        record = lead(touches=(outbound("o1", 1),))
        counting.explain(record, at=day(2))
        assert set(counts) >= {"is_qualified", "is_two_way"}
        assert max(counts.values()) == 1, counts
        counts.clear()
        counting.enabled_events(record, at=day(2), why="x")
        assert counts
        assert max(counts.values()) == 1, counts

    def test_the_conversion_rule_cannot_be_replaced(self):
        """A funnel's registry could replace is_two_way: explain said ready, convert refused."""
        registry = funnel.spec.guards.GUARDS.extend("lax")
        for name in ("is_two_way", "is_qualified"):
            with pytest.raises(ValidationError, match="cannot be replaced"):
                registry.register(name, "anything goes", replace=True)(lambda r, c: ())


class TestErrorsCarryData:
    def test_wrong_level_has_reasons(self):
        """WrongLevel carried no reasons in 0.1."""
        with pytest.raises(funnel.exceptions.WrongLevel) as err:
            funnel.advance(ready_lead(), "convert", at=day(3), funnel=DEFAULT_FUNNEL)
        assert err.value.reasons
        assert "convert()" in err.value.reasons[0]

    def test_to_dict_is_a_problem_details_body_without_personal_data(self):
        with pytest.raises(funnel.exceptions.NotQualified) as err:
            convert(lead(), at=day(1))
        body = err.value.to_dict()
        assert body["title"] == "NotQualified"
        assert body["type"] == "urn:funnel:error:NotQualified"
        assert body["record"] == "L1"
        assert body["event"] == "convert"
        assert body["reasons"] == list(err.value.reasons)
        assert (
            body["detail"] == err.value.summary == "Lead 'L1' cannot convert from stage 'acquired'"
        )
        assert "ada@acme.example" not in repr(body)
        assert "Ada" not in repr(body)

    def test_validation_error_names_field_and_allowed_values(self):
        with pytest.raises(ValidationError) as err:
            convert(ready_lead(), at=day(3), event="teleport")
        assert err.value.field == "event"
        assert err.value.allowed == ("convert",)
        assert err.value.to_dict()["allowed"] == ["convert"]


TWO_CONVERSIONS = """
[funnel]
name = "two"
version = "1"

[stages.new]
level = "lead"
initial = true

[stages.warm]
level = "lead"

[stages.deal]
level = "prospect"

[stages.won]
level = "prospect"
final = true
outcome = "won"

[events.warm_up]
from = "new"
to = "warm"

[events.fast_track]
from = "new"
to = "deal"
guards = ["is_two_way", "is_qualified"]

[events.convert]
from = "warm"
to = "deal"
guards = ["is_two_way", "is_qualified"]

[events.close]
from = "deal"
to = "won"
"""


#: Values of the wrong type, typed Any so the deliberate misuse below type-checks.
NOTHING: Any = None
TEXT: Any = "x"
NUMBER: Any = 1


class TestReviewFindings:
    """What a review of the change, trying it as a user, found; each failed before its fix."""

    def test_a_forged_prospect_is_refused_at_every_door(self):
        """A prospect with an empty pass and a hand-set two-way finding, no touch at all."""
        from funnel.model.engagement import Engagement
        from funnel.model.qualification import Qualification

        empty = Qualification(framework="none", rule=funnel.PassRule.all(), results=(), at=T0)
        trust_me = EngagementFinding(Engagement.TWO_WAY, None, "trust me")
        with pytest.raises(ValidationError):
            Prospect(
                id="P1",
                contact=ready_lead().contact,
                source="x",
                created_at=T0,
                stage="organisation",
                qualification=empty,
                engagement=trust_me,
                converted_at=T0,
                lead_level="raw",
            )
        real = prospect()
        # A real dialogue but no history of its conversion: refused when it is made.
        with pytest.raises(ValidationError, match="must contain its conversion"):
            attrs.evolve(real, history=())
        # Evidence that does not pass the funnel's framework, under its own version.
        unmet = attrs.evolve(real, evidence=met("fit", at=2))
        with pytest.raises(ValidationError, match="does not pass framework"):
            DEFAULT_FUNNEL.check(unmet)

    def test_engagement_is_derived_not_trusted(self):
        real = prospect()
        with pytest.raises(ValidationError, match="two-way"):
            attrs.evolve(real, touches=(outbound("o1", 1),))

    def test_convert_uses_the_conversion_event_of_the_stage(self):
        """With two conversion events, convert() picks the one the stage has; explain agrees."""
        two = loads_funnel(TWO_CONVERSIONS)
        ready = lead(
            stage="new",
            touches=(outbound("o1", 1), reply("r1", 2, "o1")),
            evidence=met(*ALL_MET, at=2),
        )
        assert two.explain(ready, at=day(3)).ready
        fast = two.convert(ready, at=day(3))
        assert fast.history[-1].event == "fast_track"
        warm = two.advance(ready, "warm_up", at=day(3))
        assert two.explain(warm, at=day(4)).ready
        assert two.convert(warm, at=day(4)).history[-1].event == "convert"

    def test_hooks_of_another_funnel_are_refused(self):
        """Hooks() bound to the default funnel silently missed conversions in a company funnel."""
        acme = loads_funnel(ACME)
        ready = lead(
            stage="new",
            touches=(outbound("o1", 1), reply("r1", 2, "o1")),
            evidence=met(*ALL_MET, at=2),
        )
        with pytest.raises(ValidationError, match="made for funnel 'sources'") as err:
            acme.convert(ready, at=day(3), hooks=funnel.Hooks())
        assert err.value.field == "hooks"
        seen: list[str] = []
        hooks = funnel.Hooks(funnel=acme)
        hooks.on_conversion(lambda t: seen.append(t.change.event))
        acme.convert(ready, at=day(3), hooks=hooks)
        assert seen == ["sign"]

    @pytest.mark.parametrize(
        "call",
        [
            lambda: DEFAULT_FUNNEL.check(NOTHING),
            lambda: DEFAULT_FUNNEL.allowed_events(NOTHING),
            lambda: DEFAULT_FUNNEL.machine_for(NOTHING, at=T0),
            lambda: funnel.enabled_events(NOTHING, at=T0),
            lambda: funnel.add_touch(NOTHING, outbound("o", 1)),
            lambda: funnel.check_touch(NOTHING, outbound("o", 1)),
            lambda: funnel.check_touch(lead(), TEXT),
            lambda: funnel.plan_touch(lead(), NOTHING),
            lambda: funnel.fire(lead(), "nurture", at=T0, hooks=TEXT),
            lambda: funnel.fire(lead(), "nurture", at=T0, listeners=NUMBER),
            lambda: funnel.fire(lead(), "nurture", at=NOTHING),
            lambda: funnel.io.serialize.loads(NOTHING),
            lambda: funnel.io.serialize.loads(funnel.io.serialize.dumps(lead()), funnel=TEXT),
            lambda: funnel.loads_funnel(NOTHING),
            lambda: funnel.load_funnel(NOTHING),
            lambda: Funnel(machine=NOTHING),
            lambda: funnel.IdealCustomerProfile(industries=NOTHING),
            lambda: qualify(NOTHING, at=T0),
            lambda: lead(touches=NOTHING),
            lambda: funnel.Hooks().on_event("teleport"),
        ],
    )
    def test_wrong_types_raise_validation_errors(self, call):
        """Each of these raised a bare AttributeError or TypeError."""
        with pytest.raises(ValidationError):
            call()

    def test_serialization_errors_do_not_echo_values(self):
        """A misplaced email in a datetime field was repeated in the message."""
        document = to_dict(lead())
        document["data"]["created_at"] = "zed.quux@corp.example"
        with pytest.raises(SerializationError) as err:
            from_dict(document)
        assert "zed.quux" not in str(err.value)
        assert "zed.quux" not in repr(err.value.to_dict())
        document = to_dict(lead())
        document["schema"] = "zed.quux@corp.example"
        with pytest.raises(SerializationError) as err:
            from_dict(document)
        assert "zed.quux" not in str(err.value)
