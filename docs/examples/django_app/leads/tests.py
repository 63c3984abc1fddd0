"""Django's test runner against SQLite: ``python manage.py test`` (from docs/examples/django_app)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.test import TestCase

import funnel
from funnel.exceptions import CommunicationRefused, IllegalEvent, NotQualified, StaleWriteError

from .models import FunnelRecord

AT = datetime(2026, 3, 1, 9, tzinfo=UTC)


def new_lead(record_id: str = "L1") -> funnel.Lead:
    contact = funnel.Contact(
        name="Ada Lovelace",
        email="ada@acme.example",
        company=funnel.Company(name="Acme", annual_revenue="1200.50"),
        consent=funnel.Consent(opted_out=True),
    )
    return funnel.Lead(id=record_id, contact=contact, source="web_form", created_at=AT)


class FunnelRecordTests(TestCase):
    def test_a_record_comes_back_from_the_database_as_it_went_in(self) -> None:
        lead = new_lead()
        FunnelRecord.create(lead)
        row = FunnelRecord.objects.get(record_id="L1")
        self.assertEqual(row.record, lead)
        self.assertEqual((row.kind, row.stage, row.version), ("lead", "acquired", 1))
        self.assertEqual(row.document["schema"], "funnel/lead")
        self.assertNotIn("Lovelace", str(row))

    def test_firing_an_event_moves_the_stored_record(self) -> None:
        row = FunnelRecord.create(new_lead())
        row.fire("nurture", at=AT + timedelta(hours=1))
        row = FunnelRecord.objects.get(record_id="L1")
        self.assertEqual((row.stage, row.version), ("nurturing", 2))
        [change] = row.record.history
        self.assertEqual((change.from_stage, change.to_stage), ("acquired", "nurturing"))
        self.assertEqual(FunnelRecord.objects.filter(stage="nurturing").count(), 1)

    def test_a_refused_event_writes_nothing(self) -> None:
        row = FunnelRecord.create(new_lead())
        with self.assertRaises(IllegalEvent):
            row.fire("win", at=AT)
        with self.assertRaises(NotQualified):
            row.fire("convert", at=AT)
        row.refresh_from_db()
        self.assertEqual((row.stage, row.version, row.record), ("acquired", 1, new_lead()))

    def test_a_lead_becomes_a_prospect_in_the_same_row(self) -> None:
        row = FunnelRecord.create(new_lead())
        evidence = [
            funnel.Evidence(criterion=c, verdict="met", source="rep:alice", at=AT)
            for c in ("fit", "means", "authority", "intention")
        ]
        row.save_record(funnel.add_evidence(row.record, *evidence))
        row.fire("mark_sql", at=AT)  # fits: a rep may now write to the lead personally
        mail = funnel.Touch(id="t1", at=AT, direction="outbound", channel="email",
                            sender="rep:alice")  # fmt: skip
        reply = funnel.Touch(id="t2", at=AT + timedelta(hours=2), direction="inbound",
                             channel="email", in_reply_to="t1")  # fmt: skip
        row.plan_touch(mail)
        row.plan_touch(reply)
        prospect = row.fire("convert", at=AT + timedelta(days=1))
        row = FunnelRecord.objects.get(record_id="L1")
        self.assertEqual((row.kind, row.stage, row.version), ("prospect", "organisation", 6))
        self.assertEqual(row.record, prospect)
        self.assertTrue(row.record.contact.consent.opted_out)  # consent carried over

    def test_consent_is_applied_to_planned_touches(self) -> None:
        row = FunnelRecord.create(new_lead())  # opted out of mass communication
        newsletter = funnel.Touch(id="n1", at=AT, direction="outbound", channel="email",
                                  reach="mass", sender="marketing:news")  # fmt: skip
        with self.assertRaises(CommunicationRefused):
            row.plan_touch(newsletter)
        row.refresh_from_db()
        self.assertEqual(row.record.touches, ())

    def test_two_writers_of_one_version_cannot_both_win(self) -> None:
        FunnelRecord.create(new_lead())
        first = FunnelRecord.objects.get(record_id="L1")
        second = FunnelRecord.objects.get(record_id="L1")
        first.fire("nurture", at=AT + timedelta(hours=1))
        with self.assertRaises(StaleWriteError) as caught:
            second.fire("disqualify", at=AT + timedelta(hours=2), why="no budget")
        self.assertEqual((caught.exception.expected, caught.exception.actual), (1, 2))
        self.assertEqual(FunnelRecord.objects.get(record_id="L1").stage, "nurturing")

    def test_the_migration_matches_the_model(self) -> None:
        out = StringIO()
        call_command("makemigrations", "leads", "--check", "--dry-run", stdout=out)
        self.assertIn("No changes detected", out.getvalue())


class FireEventViewTests(TestCase):
    """The how-to's view maps every refusal to problem details (found in review)."""

    def post(self, record_id: str, body: object) -> Any:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(
            f"/records/{record_id}/events", data=content, content_type="application/json"
        )

    def assert_problem(self, response: Any, status: int, title: str) -> dict[str, Any]:
        self.assertEqual(response.status_code, status)
        self.assertEqual(response["Content-Type"], "application/problem+json")
        body = response.json()
        self.assertEqual((body["status"], body["title"]), (status, title))
        self.assertTrue(body["detail"])
        for personal in ("Lovelace", "ada@acme.example", "7946"):
            self.assertNotIn(personal, response.content.decode())
        return dict(body)

    def test_a_move_answers_the_new_stage(self) -> None:
        FunnelRecord.create(new_lead())
        moved = self.post("L1", {"event": "nurture", "at": "2026-03-01T10:00:00+00:00"})
        self.assertEqual(moved.status_code, 200)
        self.assertEqual(moved.json(), {"id": "L1", "stage": "nurturing", "version": 2})

    def test_a_missing_key_is_400(self) -> None:
        FunnelRecord.create(new_lead())
        body = self.assert_problem(self.post("L1", {"event": "nurture"}), 400, "MissingField")
        self.assertEqual(body["fields"], ["at"])
        body = self.assert_problem(self.post("L1", {"why": "Ada Lovelace"}), 400, "MissingField")
        self.assertEqual(body["fields"], ["event", "at"])
        self.assertEqual(FunnelRecord.objects.get(record_id="L1").version, 1)

    def test_an_unknown_id_is_404(self) -> None:
        body = self.assert_problem(
            self.post("L9", {"event": "nurture", "at": "2026-03-01T10:00:00+00:00"}),
            404,
            "RecordNotFound",
        )
        self.assertEqual(body["record"], "L9")

    def test_a_body_that_is_not_a_json_object_is_400(self) -> None:
        FunnelRecord.create(new_lead())
        body = self.assert_problem(
            self.post("L1", b'{"event": "nurture",\n "at": "Ada Lovelace'), 400, "MalformedJSON"
        )
        self.assertEqual((body["line"], body["column"]), (2, 8))
        self.assert_problem(self.post("L1", ["nurture"]), 400, "InvalidBody")
        self.assert_problem(self.post("L1", b"\xff"), 400, "MalformedJSON")
        self.assert_problem(
            self.post("L1", {"event": "nurture", "at": "ada@acme.example"}), 400, "InvalidField"
        )

    def test_what_funnel_refuses_has_funnel_s_status(self) -> None:
        FunnelRecord.create(new_lead())
        self.assert_problem(
            self.post("L1", {"event": "win", "at": "2026-03-01T10:00:00+00:00"}),
            409,
            "IllegalEvent",
        )
        self.assert_problem(
            self.post("L1", {"event": "nurture", "at": "2026-03-01T10:00:00"}),
            422,
            "ValidationError",
        )
        self.assertEqual(FunnelRecord.objects.get(record_id="L1").version, 1)

    def test_only_post_is_allowed(self) -> None:
        self.assertEqual(self.client.get("/records/L1/events").status_code, 405)
