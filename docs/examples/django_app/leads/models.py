"""
A Django model that stores one funnel record (a lead or a prospect) as JSON.

The JSON is funnel's own document (:func:`funnel.io.serialize.to_dict`): a schema name, a
version and the record, read back strictly with :func:`funnel.io.serialize.from_dict`.
``stage`` and ``kind`` are copies of the record's, kept for queries and indexes; funnel
decides every change, and ``version`` makes two concurrent changes of one record safe
(the second is refused with :class:`funnel.exceptions.StaleWriteError`).
"""

from __future__ import annotations

from datetime import datetime

from django.db import models, transaction
from django.db.models import F

import funnel
from funnel.exceptions import StaleWriteError
from funnel.io.serialize import from_dict, to_dict

Record = funnel.Lead | funnel.Prospect


class FunnelRecord(models.Model):
    """One lead or prospect: funnel's JSON document, with its id, kind and stage as columns."""

    class Kind(models.TextChoices):
        LEAD = "lead"
        PROSPECT = "prospect"

    record_id = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    stage = models.CharField(max_length=100, db_index=True)
    document = models.JSONField()
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "stage"], name="funnel_kind_stage")]

    def __str__(self) -> str:  # ids only: the document holds personal data
        return f"{self.kind} {self.record_id} ({self.stage}, v{self.version})"

    # -- funnel records in and out ---------------------------------------------------------

    @property
    def record(self) -> Record:
        """The stored record, read strictly (a broken document raises SerializationError)."""
        return from_dict(self.document)

    @classmethod
    def create(cls, record: Record) -> FunnelRecord:
        """Store a new record."""
        return cls.objects.create(record_id=record.id, version=1, **cls._columns(record))

    @staticmethod
    def _columns(record: Record) -> dict[str, object]:
        is_prospect = isinstance(record, funnel.Prospect)
        kind = FunnelRecord.Kind.PROSPECT if is_prospect else FunnelRecord.Kind.LEAD
        return {"kind": kind, "stage": record.stage, "document": to_dict(record)}

    def save_record(self, record: Record) -> None:
        """
        Write *record* over the stored one, if nobody changed it since this row was read.

        Raises:
            StaleWriteError: another request saved the record first; read it again.
        """
        if record.id != self.record_id:
            raise funnel.ValidationError("a record keeps its id", field="record")
        columns = self._columns(record)
        updated = FunnelRecord.objects.filter(pk=self.pk, version=self.version).update(
            version=F("version") + 1, **columns
        )
        if updated != 1:
            actual = (
                FunnelRecord.objects.filter(pk=self.pk).values_list("version", flat=True).first()
            )
            raise StaleWriteError(self.record_id, self.version, actual)
        self.refresh_from_db()

    # -- moving it ---------------------------------------------------------------------

    def fire(self, event: str, *, at: datetime, why: str | None = None) -> Record:
        """
        Send *event* to the record (a conversion included) and store the result.

        Raises:
            TransitionError: funnel refused the event (nothing is written).
            StaleWriteError: the record changed since this row was read.
        """
        with transaction.atomic():
            new = funnel.fire(self.record, event, at=at, why=why)
            self.save_record(new)
        return new

    def plan_touch(self, touch: funnel.Touch) -> Record:
        """Add *touch* if the communication rules and the contact's consent allow it."""
        with transaction.atomic():
            new = funnel.plan_touch(self.record, touch)
            self.save_record(new)
        return new
