"""The FastAPI example app (docs/examples/fastapi_app.py), through FastAPI's TestClient."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("funnel.io.payloads")

from fastapi.testclient import TestClient

PATH = Path(__file__).resolve().parents[2] / "docs" / "examples" / "fastapi_app.py"
AT = "2026-03-01T09:00:00+00:00"
LEAD: dict[str, Any] = {
    "id": "L1",
    "contact": {"name": "Ada Lovelace", "email": "ada@acme.example", "phone": "+44 20 7946 0958"},
    "source": "web_form",
    "created_at": AT,
}


def load_app() -> Any:
    spec = importlib.util.spec_from_file_location("fastapi_app_under_test", PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def client() -> TestClient:
    return TestClient(load_app().create_app())


def no_personal_data(text: str) -> None:
    for personal in ("Lovelace", "ada@acme.example", "7946"):
        assert personal not in text


def test_create_fetch_and_move_a_lead(client):
    created = client.post("/leads", json=LEAD)
    assert created.status_code == 201
    assert client.get("/records/L1").json() == created.json()
    moved = client.post("/records/L1/events", json={"event": "nurture", "at": AT})
    assert moved.status_code == 200
    assert moved.json()["stage"] == "nurturing"
    assert moved.json()["history"] == [
        {"from_stage": "acquired", "to_stage": "nurturing", "event": "nurture", "at": AT,
         "why": None}
    ]  # fmt: skip
    assert client.get("/records/L1").json()["stage"] == "nurturing"


def test_the_stored_record_is_the_one_the_loader_reads_from_the_response(client):
    from funnel.io.serialize import from_dict

    records: dict[str, Any] = {}
    client = TestClient(load_app().create_app(records))
    body = client.post("/leads", json=LEAD).json()
    assert from_dict({"schema": "funnel/lead", "version": 1, "data": body}) == records["L1"]


@pytest.mark.parametrize(
    ("move", "status", "title"),
    [
        ({"event": "win", "at": AT}, 409, "IllegalEvent"),
        ({"event": "convert", "at": AT}, 409, "NotQualified"),
        ({"event": "disqualify", "at": AT}, 409, "GuardFailed"),  # no reason given
        ({"event": "nurture", "at": "2026-02-01T00:00:00+00:00"}, 409, "ChronologyError"),
        ({"event": "nurture", "at": "2026-03-01T09:00:00"}, 422, "SerializationError"),
        ({"event": "nurture"}, 422, "SerializationError"),
    ],
)
def test_refused_moves_are_problem_details_with_the_right_status(client, move, status, title):
    client.post("/leads", json=LEAD)
    refused = client.post("/records/L1/events", json=move)
    assert refused.status_code == status
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert (body["status"], body["title"], body["type"]) == (
        status,
        title,
        f"urn:funnel:error:{title}",
    )
    assert body["detail"]
    no_personal_data(refused.text)
    assert client.get("/records/L1").json()["stage"] == "acquired"  # nothing changed


def test_unknown_record_is_404(client):
    missing = client.post("/records/L9/events", json={"event": "nurture", "at": AT})
    assert missing.status_code == 404
    assert missing.json()["record"] == "L9"


def test_an_invalid_body_is_422_without_the_input(client):
    bad = {**LEAD, "contact": {**LEAD["contact"], "email": ["ada@acme.example"]}}
    refused = client.post("/leads", json=bad)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "body.contact.email"
    no_personal_data(refused.text)


def test_a_record_rule_broken_is_422_with_funnel_s_message(client):
    bad = {**LEAD, "touches": [{"id": "r", "at": AT, "direction": "inbound", "channel": "email",
                                "in_reply_to": "m9"}]}  # fmt: skip
    refused = client.post("/leads", json=bad)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["message"] == (
        "Lead 'L1': touch 'r' replies to unknown touch 'm9'"
    )


def test_a_touch_consent_forbids_is_403(client):
    opted_out = {**LEAD, "contact": {**LEAD["contact"], "consent": {"opted_out": True}}}
    client.post("/leads", json=opted_out)
    refused = client.post(
        "/records/L1/touches",
        json={"id": "n1", "at": AT, "direction": "outbound", "channel": "email",
              "reach": "mass", "sender": "marketing:news"},
    )  # fmt: skip
    assert refused.status_code == 403
    assert refused.json()["title"] == "CommunicationRefused"
    assert refused.json()["detail"].startswith("touch refused: ")
    assert client.get("/records/L1").json()["touches"] == []


def test_a_duplicate_id_is_409(client):
    client.post("/leads", json=LEAD)
    assert client.post("/leads", json=LEAD).status_code == 409


def test_the_openapi_schema_uses_funnel_s_payload_models(client):
    schema = client.get("/openapi.json").json()
    names = set(schema["components"]["schemas"])
    assert {"LeadPayload", "ProspectPayload", "TouchPayload", "ContactPayload"} <= names
    lead = schema["components"]["schemas"]["LeadPayload"]
    assert set(lead["required"]) == {"id", "contact", "source", "created_at"}
    assert lead["additionalProperties"] is False
    json.dumps(schema)


@pytest.mark.parametrize(
    ("body", "line", "column", "message"),
    [
        (b'{"id": "L1",\n "contact": {"name": "Ada Lovelace" "email": "x"}}', 2, 37,
         "Expecting ',' delimiter"),
        (b"ada@acme.example", 1, 1, "Expecting value"),
        (b'{"id": "L1", "contact": "+44 20 7946 0958"', 1, 43, "Expecting ',' delimiter"),
        (b'{"note": "Lovelace\x00"}', 1, 19, "Invalid control character at"),
    ],
)  # fmt: skip
def test_a_body_that_is_not_json_says_where_it_breaks_without_quoting_it(
    client, body, line, column, message
):
    """Malformed JSON was reported as path "body[1]" (found in review)."""
    import json as json_module

    with pytest.raises(json_module.JSONDecodeError) as expected:
        json_module.loads(body)
    assert (expected.value.lineno, expected.value.colno) == (line, column)  # Python's own
    refused = client.post("/leads", content=body, headers={"content-type": "application/json"})
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert (problem["title"], problem["status"]) == ("MalformedJSON", 400)
    assert (problem["line"], problem["column"]) == (line, column)
    assert problem["detail"] == (
        f"the request body is not valid JSON: {message} at line {line}, column {column}"
    )
    assert [e["path"] for e in problem["errors"]] == ["body"]
    assert "body[" not in refused.text
    no_personal_data(refused.text)
