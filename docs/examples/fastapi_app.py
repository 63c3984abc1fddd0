"""
A FastAPI application that creates leads, shows them and moves them with funnel.

Run it with ``uvicorn fastapi_app:app`` (from this folder); ``docs/how-to/fastapi.md``
walks through it with FastAPI's test client. Records live in a dict here; a real
application keeps them in :class:`funnel.io.sql.SqlStore` (or its own tables, as JSON).

* request and response bodies are funnel's payload models (:mod:`funnel.io.payloads`),
  so the OpenAPI schema is funnel's and a body that validates is a valid record;
* every funnel error becomes an RFC 9457 problem-details response
  (``application/problem+json``) with the status of :meth:`funnel.FunnelError.to_dict`;
* a body pydantic refuses becomes the same kind of response, without the input values
  FastAPI's default handler would echo back (personal data, often);
* a body that is not JSON at all is ``400 Bad Request``, saying where the JSON breaks
  (``line`` and ``column``) and why, without quoting it.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

import funnel
from funnel.io.payloads import (
    LeadPayload,
    ProspectPayload,
    TouchPayload,
    When,
    payload_of,
    problem_details,
)

PROBLEM_JSON = "application/problem+json"


class Move(BaseModel):
    """An event to fire at a record."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    event: str = Field(min_length=1, examples=["mark_mql"])
    at: When
    why: str | None = None


def problem(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON)


def malformed_json(body: bytes, error: Any) -> dict[str, Any]:
    """
    A problem-details body for a request body that is not JSON: where it breaks and why.

    FastAPI reports the character offset of the decode error (``loc`` is ``("body",
    offset)``); a client needs the line and the column. The body itself is not quoted
    (it is personal data, often), only the JSON parser's message ("Expecting ','
    delimiter").
    """
    loc = error.get("loc", ())
    position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
    text = body.decode("utf-8", errors="replace")
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    cause = (error.get("ctx") or {}).get("error")
    reason = cause[:80] if isinstance(cause, str) and cause else "invalid JSON"
    message = f"{reason} at line {line}, column {column}"
    return {
        "type": "urn:funnel-example:malformed-json",
        "title": "MalformedJSON",
        "status": 400,
        "detail": f"the request body is not valid JSON: {message}",
        "line": line,
        "column": column,
        "position": position,
        "errors": [{"path": "body", "message": message, "kind": "json_invalid"}],
    }


def create_app(records: dict[str, funnel.Lead | funnel.Prospect] | None = None) -> FastAPI:
    """The application, keeping its records in *records* (a new dict by default)."""
    store: dict[str, funnel.Lead | funnel.Prospect] = {} if records is None else records
    app = FastAPI(title="funnel example", version=funnel.__version__)

    @app.exception_handler(funnel.FunnelError)
    async def funnel_error(request: Request, exc: funnel.FunnelError) -> JSONResponse:
        return problem(exc.to_dict())

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        broken = [e for e in errors if e.get("type") == "json_invalid"]
        if broken:
            return problem(malformed_json(await request.body(), broken[0]))
        return problem(problem_details(errors))

    def get_record(record_id: str) -> funnel.Lead | funnel.Prospect:
        try:
            return store[record_id]
        except KeyError:
            raise funnel.exceptions.RecordNotFound(record_id) from None

    @app.post("/leads", status_code=201, response_model=LeadPayload)
    def create_lead(lead: LeadPayload) -> Any:
        record = lead.to_record()  # checked against the funnel, as funnel's loader does
        if record.id in store:
            return problem(
                {
                    "type": "urn:funnel-example:duplicate-id",
                    "title": "DuplicateId",
                    "status": 409,
                    "detail": f"a record with id {record.id!r} exists",
                }
            )
        store[record.id] = record
        return payload_of(record)

    @app.get("/records/{record_id}", response_model=LeadPayload | ProspectPayload)
    def read_record(record_id: str) -> Any:
        return payload_of(get_record(record_id))

    @app.post("/records/{record_id}/events", response_model=LeadPayload | ProspectPayload)
    def fire_event(record_id: str, move: Move) -> Any:
        new = funnel.fire(get_record(record_id), move.event, at=move.at, why=move.why)
        store[record_id] = new
        return payload_of(new)

    @app.post("/records/{record_id}/touches", response_model=LeadPayload | ProspectPayload)
    def plan_touch(record_id: str, touch: TouchPayload) -> Any:
        # plan_touch applies the communication rules and the contact's consent.
        new = funnel.plan_touch(get_record(record_id), touch.to_record())
        store[record_id] = new
        return payload_of(new)

    @app.get("/records/{record_id}/explain")
    def explain(record_id: str, at: When) -> dict[str, Any]:
        why = funnel.explain(get_record(record_id), at=at)
        return {"ready": why.ready, "blockers": list(why.blockers)}

    return app


app = create_app()
