"""
The view of the how-to: fire an event at a stored record, over HTTP, with problem details.

Every refusal is an RFC 9457 problem-details response (``application/problem+json``), as
in the FastAPI example: a body that is not JSON, or lacks ``event`` or ``at``, is ``400``;
an unknown record is ``404`` (:class:`funnel.exceptions.RecordNotFound`); what funnel
refuses has the status of :meth:`funnel.FunnelError.to_dict` (``409`` for a refused move,
``422`` for bad input). No answer quotes the body: it may hold personal data.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

import funnel
from funnel.exceptions import RecordNotFound

from .models import FunnelRecord

PROBLEM_JSON = "application/problem+json"


def problem(body: dict[str, Any]) -> JsonResponse:
    return JsonResponse(body, status=body["status"], content_type=PROBLEM_JSON)


def bad_request(title: str, detail: str, **extra: Any) -> JsonResponse:
    kind = "".join(f"-{c.lower()}" if c.isupper() else c for c in title).lstrip("-")
    return problem(
        {"type": f"urn:funnel-example:{kind}", "title": title, "status": 400, "detail": detail}
        | extra
    )


@require_POST
def fire_event(request: HttpRequest, record_id: str) -> JsonResponse:
    """``POST /records/<id>/events`` with ``{"event": ..., "at": ..., "why": ...}``."""
    try:
        body = json.loads(request.body)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return bad_request(
            "MalformedJSON",
            f"the request body is not valid JSON: {exc.msg} at {where}",
            line=exc.lineno,
            column=exc.colno,
        )
    except UnicodeDecodeError:
        return bad_request("MalformedJSON", "the request body is not UTF-8 text")
    if not isinstance(body, dict):
        return bad_request("InvalidBody", "the body must be a JSON object")
    missing = [key for key in ("event", "at") if key not in body]
    if missing:
        return bad_request(
            "MissingField", f"the body lacks {' and '.join(missing)}", fields=missing
        )
    try:
        at = datetime.fromisoformat(body["at"])
    except (TypeError, ValueError):
        return bad_request(
            "InvalidField", "at must be an ISO 8601 time with its UTC offset", fields=["at"]
        )
    try:
        row = FunnelRecord.objects.get(record_id=record_id)
    except FunnelRecord.DoesNotExist:
        return problem(RecordNotFound(record_id).to_dict())
    try:
        record = row.fire(body["event"], at=at, why=body.get("why"))
    except funnel.FunnelError as exc:  # refused moves, naive times, stale writes
        return problem(exc.to_dict())
    return JsonResponse({"id": record.id, "stage": record.stage, "version": row.version})
