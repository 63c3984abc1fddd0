"""Payload models (pydantic) and JSON Schema: the loader's records, the loader's errors."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import tomllib
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnel
from funnel.exceptions import DefinitionError, FunnelError, MissingExtra, SerializationError
from funnel.io import serialize
from funnel.io.definition import default_definition_path
from tests.strategies import records, touches

pydantic = pytest.importorskip("pydantic")
payloads = pytest.importorskip("funnel.io.payloads")

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIRS = (ROOT / "src/funnel/data/schemas", ROOT / "docs/_static/schemas")
AT = datetime(2026, 3, 1, 9, tzinfo=UTC)


def ready_prospect() -> funnel.Prospect:
    contact = funnel.Contact(
        name="Ada Lovelace",
        email="ada@acme.example",
        phone="+44 20 7946 0958",
        company=funnel.Company(name="Acme", annual_revenue="1200.50", employees=40),
    )
    lead = funnel.Lead(id="L1", contact=contact, source="web_form", created_at=AT)
    lead = funnel.add_evidence(
        lead,
        *(
            funnel.Evidence(criterion=c, verdict="met", source="rep:a", at=AT)
            for c in ("fit", "means", "authority", "intention")
        ),
    )
    lead = funnel.advance(lead, "mark_sql", at=AT)  # a rep may write to an SQL lead
    mail = funnel.Touch(id="t1", at=AT, direction="outbound", channel="email", sender="rep:a")
    reply = funnel.Touch(id="t2", at=AT, direction="inbound", channel="email", in_reply_to="t1")
    lead = funnel.plan_touch(funnel.plan_touch(lead, mail), reply)
    return funnel.convert(lead, at=AT)


from funnel.model.touch import _UNSTATED  # noqa: E402

# -- the models mirror the records ----------------------------------------------------------


@pytest.mark.parametrize("record_type", list(payloads.PAYLOADS), ids=lambda t: t.__name__)
def test_each_payload_has_the_fields_defaults_and_required_keys_of_its_record(record_type):
    """A field added to a record, or a default changed, must change its payload too."""
    model = payloads.PAYLOADS[record_type]
    fields = attrs.fields(record_type)
    assert list(model.model_fields) == [f.name for f in fields]
    for field in fields:
        info = model.model_fields[field.name]
        has_default = field.default is not attrs.NOTHING
        assert info.is_required() is not has_default, field.name
        if has_default:
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            # A touch's reach not stated: left out of the payload too (None), so the
            # record decides (personal, or refused from an automated sender).
            expected = None if default is _UNSTATED else serialize.unstructure(default)
            if isinstance(expected, frozenset):
                expected = sorted(expected)
            got = info.get_default(call_default_factory=True)
            if isinstance(got, pydantic.BaseModel):
                got = got.model_dump(mode="json")
            elif isinstance(got, list | tuple):
                got = list(got)
            assert got == expected, field.name


def _literal_values(annotation: Any) -> set[str]:
    out: set[str] = set()
    for arg in typing.get_args(annotation) or ():
        out |= _literal_values(arg)
    if typing.get_origin(annotation) is typing.Literal:
        out |= set(typing.get_args(annotation))
    return out


@pytest.mark.parametrize(
    ("model", "field", "enum"),
    [
        ("TouchPayload", "direction", funnel.model.touch.Direction),
        ("TouchPayload", "channel", funnel.model.touch.Channel),
        ("TouchPayload", "reach", funnel.model.touch.Reach),
        ("EvidencePayload", "verdict", funnel.model.evidence.Verdict),
        ("LeadPayload", "level", funnel.model.records.QualificationLevel),
        ("EngagementPayload", "level", funnel.model.engagement.Engagement),
    ],
)
def test_choices_are_the_enum_values(model, field, enum):
    annotation = getattr(payloads, model).model_fields[field].annotation
    assert _literal_values(annotation) == {m.value for m in enum}


# -- a payload gives the loader's record ------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_a_valid_document_gives_the_record_the_loader_reads(record):
    document = json.loads(serialize.dumps(record))
    expected = serialize.from_dict(document)
    assert expected == record
    assert payloads.RecordDocument.model_validate(document).to_record() == expected
    model = payloads.LeadPayload if isinstance(record, funnel.Lead) else payloads.ProspectPayload
    payload = model.model_validate(document["data"])
    assert payload.to_record() == expected
    assert model.from_record(record) == payload
    assert payload.model_dump(mode="json") == document["data"]


_JUNK: tuple[Any, ...] = (
    None,
    5,
    -1,
    "5",
    "",
    " ",
    True,
    1.5,
    [],
    {},
    "x",
    "2026-01-01T00:00:00",
    "1e3",
    "2026-01-01T00:00:00+00:00",
    "email",
    "met",
    [1],
    {"k": 1},
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here] if here else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*here, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_paths(item, (*here, i)))
    return out


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except (pydantic.ValidationError, SerializationError):
        return "refused", None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(), st.data())
def test_a_changed_document_is_refused_or_read_alike_by_the_loader_and_the_payload(record, data):
    """Any value anywhere: both refuse it, or both read the same record."""
    document = json.loads(serialize.dumps(record))
    path = data.draw(st.sampled_from(_paths(document["data"])))
    change = data.draw(st.sampled_from(["replace", "delete", "add"]))
    changed = copy.deepcopy(document)
    parent = changed["data"]
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if change == "delete" and isinstance(parent, dict):
        del parent[last]
    elif change == "add" and isinstance(parent, dict):
        parent["unexpected"] = 1
    else:
        parent[last] = data.draw(st.sampled_from(_JUNK))
    loader = _outcome(lambda: serialize.from_dict(changed))
    model = _outcome(lambda: payloads.RecordDocument.model_validate(changed).to_record())
    assert loader[0] == model[0], (path, change)
    assert loader[1] == model[1]


def test_record_rules_are_the_constructors_and_errors_name_the_path_not_the_data():
    prospect = ready_prospect()
    data = serialize.to_dict(prospect)["data"]
    data["touches"][1]["in_reply_to"] = "t9"
    with pytest.raises(pydantic.ValidationError) as info:
        payloads.ProspectPayload.model_validate(data)
    cause = info.value.errors()[0]["ctx"]["error"]
    assert isinstance(cause, SerializationError)
    assert "replies to unknown touch 't9'" in str(cause)
    body = payloads.problem_details(info.value)
    assert body["status"] == 422
    assert body["title"] == "SerializationError"
    assert "t9" in body["errors"][0]["message"]
    for text in (str(info.value), json.dumps(body, default=str)):
        for personal in ("Lovelace", "ada@acme.example", "7946"):
            assert personal not in text


def test_type_errors_are_pydantic_errors_with_paths_and_no_input():
    data = serialize.to_dict(ready_prospect())["data"]
    data["contact"]["email"] = ["ada@acme.example"]
    data["touches"][0]["at"] = "2026-01-01T00:00:00"  # naive
    data["value"] = 12.5  # a float is no decimal
    with pytest.raises(pydantic.ValidationError) as info:
        payloads.ProspectPayload.model_validate(data)
    body = payloads.problem_details(info.value)
    assert [e["path"] for e in body["errors"]] == ["contact.email", "touches[0].at", "value"]
    assert "naive" in body["errors"][1]["message"]
    assert "ada@acme" not in str(info.value)
    assert "ada@acme" not in json.dumps(body)
    assert body["detail"].startswith("3 problem(s) in the payload; contact.email: ")


def test_problem_details_of_a_fastapi_error_list_drops_the_input():
    errors = [
        {
            "type": "string_type",
            "loc": ("body", "contact", "name"),
            "msg": "Input should be a valid string",
            "input": "Ada Lovelace <ada@acme.example>",
        },
    ]
    body = payloads.problem_details(errors)
    assert body["path"] == "body.contact.name"
    assert "Lovelace" not in json.dumps(body)


def test_to_record_checks_the_funnel_as_the_loader_does():
    lead = funnel.Lead(id="L1", contact=funnel.Contact(name="A"), source="x", created_at=AT)
    data = serialize.to_dict(lead)["data"]
    data["stage"] = "limbo"
    payload = payloads.LeadPayload.model_validate(data)  # a lead may be in any stage...
    with pytest.raises(SerializationError) as info:  # ...but not of this funnel
        payload.to_record()
    assert info.value.path == "data.stage"
    with pytest.raises(SerializationError):
        serialize.from_dict({"schema": "funnel/lead", "version": 1, "data": data})


def test_python_values_are_accepted_as_their_json():
    touch = payloads.TouchPayload(
        id="t1", at=AT, direction="inbound", channel="form", reach="mass"
    )
    assert touch.to_record() == funnel.Touch(
        id="t1", at=AT, direction="inbound", channel="form", reach="mass"
    )
    naive = datetime(2026, 1, 1)  # noqa: DTZ001
    with pytest.raises(pydantic.ValidationError):
        payloads.TouchPayload(id="t1", at=naive, direction="inbound", channel="form")


@given(touches())
def test_payload_of_any_part_round_trips(items):
    for touch in items:
        assert payloads.payload_of(touch).to_record() == touch


def test_payload_of_refuses_what_is_not_a_record():
    with pytest.raises(funnel.ValidationError):
        payloads.payload_of(object())


def test_without_pydantic_the_module_names_the_extra():
    code = (
        "import sys; sys.modules['pydantic'] = None\n"
        "from funnel.exceptions import MissingExtra\n"
        "try:\n"
        "    import funnel.io.payloads\n"
        "except MissingExtra as exc:\n"
        "    print(exc.extra, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("api ")
    assert 'pip install "salesfunnel[api]"' in out
    assert issubclass(MissingExtra, ImportError)


# -- definition files ----------------------------------------------------------------------


def _default_data() -> dict[str, Any]:
    return tomllib.loads(default_definition_path().read_text(encoding="utf-8"))


def test_the_default_definition_gives_the_default_funnel():
    payload = payloads.DefinitionPayload.model_validate(_default_data())
    assert payload.to_funnel() == funnel.DEFAULT_FUNNEL


def test_a_definition_the_reader_refuses_is_refused_with_every_problem():
    data = _default_data()
    data["events"]["win"]["to"] = "nowhere"
    data["events"]["lose"]["guards"] = ["no_such_guard"]
    with pytest.raises(pydantic.ValidationError) as info:
        payloads.DefinitionPayload.model_validate(data)
    assert isinstance(info.value.errors()[0]["ctx"]["error"], DefinitionError)
    body = payloads.problem_details(info.value)
    assert body["title"] == "DefinitionError"
    assert sorted((e["path"], e["kind"]) for e in body["errors"]) == [
        ("events.lose.guards[0]", "unknown-guard"),
        ("events.win.to", "unknown-stage"),
    ]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["stages"]["won"].update(level="leed"), ("stages", "won", "level")),
        (lambda d: d["funnel"].update(extra=1), ("funnel", "extra")),
        (lambda d: d["thresholds"].update(mql=True), ("thresholds", "mql")),
        (lambda d: d.pop("funnel"), ("funnel",)),
    ],
)
def test_a_definition_of_the_wrong_shape_is_refused_by_pydantic_and_by_the_loader(change, path):
    data = _default_data()
    change(data)
    with pytest.raises(pydantic.ValidationError) as info:
        payloads.DefinitionPayload.model_validate(data)
    assert any(tuple(e["loc"][: len(path)]) == path for e in info.value.errors())
    with pytest.raises(DefinitionError):
        funnel.io.definition.loads_funnel(json.dumps(data), format="json")


# -- JSON Schema -------------------------------------------------------------------------


@pytest.mark.parametrize("folder", SCHEMA_DIRS, ids=["package", "docs"])
def test_the_committed_schema_files_are_the_generated_ones(folder):
    """Regenerate with: uv run python -m funnel.io.payloads src/funnel/data/schemas
    docs/_static/schemas"""
    schemas = payloads.json_schemas()
    assert sorted(p.name for p in folder.glob("*.json")) == sorted(schemas)
    for name, schema in schemas.items():
        assert (folder / name).read_text(encoding="utf-8") == payloads.schema_text(schema), name
    assert payloads.schema_path("funnel-definition.schema.json").is_file()


def _validator(name: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(payloads.schema_path(name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_every_document_the_library_writes_fits_the_schema(record):
    document = json.loads(serialize.dumps(record))
    assert not list(_validator("funnel-record.schema.json").iter_errors(document))
    name = "funnel-lead" if isinstance(record, funnel.Lead) else "funnel-prospect"
    assert not list(_validator(f"{name}.schema.json").iter_errors(document))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["data"]["contact"].update(email=5),
        lambda d: d["data"].update(nickname="x"),
        lambda d: d.update(version=2),
        lambda d: d.update(schema="funnel/customer"),
        lambda d: d["data"]["touches"][0].update(direction="sideways"),
        lambda d: d["data"].update(value=12.5),
        lambda d: d["data"]["qualification"].pop("rule"),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(change):
    document = serialize.to_dict(ready_prospect())
    assert not list(_validator("funnel-prospect.schema.json").iter_errors(document))
    change(document)
    assert list(_validator("funnel-prospect.schema.json").iter_errors(document))
    with pytest.raises(SerializationError):
        serialize.from_dict(document)


def test_definition_schema_accepts_the_shipped_files_and_refuses_a_typo():
    validator = _validator("funnel-definition.schema.json")
    files = [default_definition_path(), *sorted((ROOT / "docs").rglob("*.toml"))]
    for path in files:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        if "stages" in data:  # a definition (not another TOML file of the docs)
            assert not list(validator.iter_errors(data)), path
    data = _default_data()
    data["stages"]["won"]["outcom"] = "won"
    errors = list(validator.iter_errors(data))
    assert errors
    assert list(errors[0].absolute_path) == ["stages", "won"]


@pytest.mark.skipif(shutil.which("taplo") is None, reason="taplo (dev group) is not installed")
def test_taplo_checks_a_definition_file_with_the_schema_directive(tmp_path):
    schema = payloads.schema_path("funnel-definition.schema.json")
    good = tmp_path / "funnel.toml"
    text = default_definition_path().read_text(encoding="utf-8")
    good.write_text(f"#:schema {schema.as_uri()}\n{text}", encoding="utf-8")
    run = subprocess.run(["taplo", "check", str(good)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    bad = tmp_path / "bad.toml"
    typo = text.replace('level = "lead"', 'level = "leed"', 1)
    bad.write_text(f"#:schema {schema.as_uri()}\n{typo}", encoding="utf-8")
    run = subprocess.run(["taplo", "check", str(bad)], capture_output=True, text=True)
    assert run.returncode != 0
    assert '"leed" is not one of ["lead","prospect"]' in run.stderr


@pytest.mark.parametrize("key", ["clé", "budget_2", "_", "Budget", "a-b", ""])
def test_a_criterion_key_is_refused_exactly_when_the_record_refuses_it(key):
    """A pattern of ASCII letters refused the Unicode keys the record accepts."""
    data = {"key": key, "name": "N"}
    loader = _outcome(lambda: serialize.structure(data, funnel.model.qualification.Criterion))
    model = _outcome(lambda: payloads.CriterionPayload.model_validate(data).to_record())
    assert loader == model


def test_an_automated_send_must_state_its_reach_in_a_payload_too() -> None:
    """The payload's reach default must not pass an automated send off as personal."""
    touch = {
        "id": "n1",
        "at": "2026-03-01T09:00:00+00:00",
        "direction": "outbound",
        "channel": "email",
        "sender": "marketing:spring",
    }
    with pytest.raises(Exception, match="reach") as err:
        payloads.TouchPayload.model_validate(touch)
    assert isinstance(err.value, pydantic.ValidationError | FunnelError)
    stated = payloads.TouchPayload.model_validate({**touch, "reach": "mass"}).to_record()
    assert stated.reach.value == "mass"
    personal = {**touch, "sender": "rep:maria"}
    assert payloads.TouchPayload.model_validate(personal).to_record().reach.value == "personal"


def test_merged_from_goes_through_a_payload() -> None:
    lead = {
        "id": "L1",
        "contact": {"name": "Ada"},
        "source": "web",
        "created_at": "2026-03-01T09:00:00+00:00",
        "merged_from": [{"id": "L0", "at": "2026-03-02T09:00:00+00:00", "stage": "mql"}],
    }
    record = payloads.LeadPayload.model_validate(lead).to_record()
    assert [m.id for m in record.merged_from] == ["L0"]
    assert payloads.LeadPayload.from_record(record).to_record() == record


def test_payload_reprs_mask_personal_data_as_records_do() -> None:
    """Found in review: request bodies showed name, e-mail, phone and title in full."""
    body = {
        "id": "L1",
        "source": "web",
        "created_at": "2026-03-01T09:00:00+00:00",
        "contact": {
            "name": "Ada Lovelace",
            "email": "ada@acme.example",
            "phone": "+44 20 7946 0958",
            "title": "Chief Executive",
        },
        "touches": [
            {
                "id": "t1",
                "at": "2026-03-01T09:00:00+00:00",
                "direction": "inbound",
                "channel": "form",
                "note": "Ada Lovelace asked for a demo",
            }
        ],
    }
    payload = payloads.LeadPayload.model_validate(body)
    shown = repr(payload) + str(payload)
    for secret in ("Lovelace", "ada@acme", "7946", "Chief"):
        assert secret not in shown
    assert "a***@acme.example" in shown
    assert payload.contact.name == "Ada Lovelace"  # the value itself is kept
