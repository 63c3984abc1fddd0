"""Observability: logging of transitions, refusals and loads; OpenTelemetry spans; warnings."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import warnings
from datetime import UTC, datetime

import pytest

import funnel
from funnel._base import log as _log
from funnel.exceptions import DefinitionWarning, FunnelWarning
from funnel.io.definition import default_definition_path, load_funnel, loads_funnel

AT = datetime(2026, 3, 1, 9, tzinfo=UTC)
PERSONAL = ("Ada Lovelace", "Lovelace", "ada@acme.example", "7946", "Head of Sales")


def lead(**kw: object) -> funnel.Lead:
    contact = funnel.Contact(
        name="Ada Lovelace", email="ada@acme.example", phone="+44 20 7946 0958",
        title="Head of Sales",
    )  # fmt: skip
    return funnel.Lead(id="L1", contact=contact, source="web", created_at=AT, **kw)  # type: ignore[arg-type]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Messages and every extra field of the captured records, as one text."""
    standard = set(vars(logging.makeLogRecord({})))
    parts = []
    for rec in caplog.records:
        parts.append(rec.getMessage())
        parts.extend(repr(v) for k, v in vars(rec).items() if k not in standard)
    return "\n".join(parts)


def test_the_package_logger_has_a_null_handler_and_children_are_under_it():
    handlers = logging.getLogger("funnel").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
    assert _log.get_logger("engine.x").name == "funnel.engine.x"
    from funnel.engine import transitions
    from funnel.io import definition

    for logger in (transitions.LOG, definition.LOG):
        assert logger.name.startswith("funnel.")
        assert logger.propagate


def test_a_transition_is_logged_with_id_event_and_stages(caplog):
    caplog.set_level(logging.INFO, logger="funnel")
    funnel.advance(lead(), "nurture", at=AT)
    [rec] = [r for r in caplog.records if r.name == "funnel.engine.transitions"]
    assert rec.levelno == logging.INFO
    assert rec.getMessage() == "Lead 'L1' nurture: acquired -> nurturing"
    assert rec.funnel_record_id == "L1"
    assert (rec.funnel_event, rec.funnel_from_stage, rec.funnel_to_stage) == (
        "nurture",
        "acquired",
        "nurturing",
    )
    assert rec.funnel_at == AT.isoformat()
    for text in PERSONAL:
        assert text not in everything_logged(caplog)


def test_a_refusal_is_logged_with_the_criteria_and_no_personal_data(caplog):
    caplog.set_level(logging.INFO, logger="funnel")
    with pytest.raises(funnel.exceptions.NotQualified):
        funnel.convert(lead(), at=AT)
    [rec] = [r for r in caplog.records if r.name == "funnel.engine.transitions"]
    message = rec.getMessage()
    assert message.startswith("Lead 'L1' refused convert from acquired: NotQualified; ")
    for criterion in ("fit", "means", "authority", "intention"):
        assert f"{criterion}: unknown" in message
    assert rec.funnel_error == "NotQualified"
    assert any("fit" in r for r in rec.funnel_reasons)
    for text in PERSONAL:
        assert text not in everything_logged(caplog)


def test_an_event_or_id_from_data_is_not_logged_raw(caplog):
    caplog.set_level(logging.INFO, logger="funnel")
    record = funnel.Lead(
        id="ada@acme.example", contact=funnel.Contact(name="A"), source="x", created_at=AT
    )
    with pytest.raises(funnel.exceptions.IllegalEvent):
        funnel.fire(record, "+44 20 7946 0958", at=AT)
    funnel.advance(record, "nurture", at=AT)
    text = everything_logged(caplog)
    assert "7946" not in text
    assert "ada@acme.example" not in text
    assert "(not shown: not a name)" in text


def test_questions_are_not_logged_as_refusals(caplog):
    """can(), enabled_events() and explain() ask; only a move that was refused is logged."""
    caplog.set_level(logging.INFO, logger="funnel")
    record = lead()
    assert not funnel.can(record, "convert", at=AT)
    funnel.enabled_events(record, at=AT)
    funnel.explain(record, at=AT)
    assert not [r for r in caplog.records if r.name.startswith("funnel.")]


def test_nothing_is_formatted_when_info_is_off(monkeypatch):
    from funnel.engine import transitions

    calls = []
    monkeypatch.setattr(transitions.LOG, "info", lambda *a, **k: calls.append(a))
    transitions.LOG.setLevel(logging.WARNING)
    try:
        funnel.advance(lead(), "nurture", at=AT)
    finally:
        transitions.LOG.setLevel(logging.NOTSET)
    assert calls == []


def test_a_load_is_logged_with_source_and_counts(caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="funnel")
    path = tmp_path / "acme.toml"
    path.write_text(default_definition_path().read_text(encoding="utf-8"), encoding="utf-8")
    load_funnel(path)
    [rec] = [r for r in caplog.records if r.name == "funnel.io.definition"]
    assert rec.getMessage() == (
        f"loaded funnel 'sources' v1 from {path}: 10 stages, 10 events, 23 transitions, "
        "0 warning(s)"
    )
    assert rec.funnel_stages == 10
    assert rec.funnel_source == str(path)


# -- warnings ------------------------------------------------------------------------------

DOUBTFUL = """\
[funnel]
name = "doubtful"
version = "1"

[stages.new]
level = "lead"
initial = true

[stages.closed]
level = "prospect"
final = true

[stages.dropped]
level = "lead"
final = true
outcome = "lost"

[events.close]
from = "new"
to = "closed"
guards = ["is_two_way", "is_qualified"]

[events.drop]
from = "new"
to = "dropped"

[criteria.security_review]
name = "Security review"
"""


def test_doubtful_definitions_warn_with_kind_key_and_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loads_funnel(DOUBTFUL, source="doubtful.toml")
    found = [w for w in caught if issubclass(w.category, DefinitionWarning)]
    assert [(w.message.kind, w.message.key, w.message.line) for w in found] == [  # type: ignore[union-attr]
        ("final-without-outcome", "stages.closed", 9),
        ("nothing-to-win", "stages", None),
        ("unused-criterion", "criteria.security_review", 27),
    ]
    assert all(w.filename == __file__ for w in found)  # they point at the caller
    assert str(found[0].message).startswith("doubtful.toml:9: [final-without-outcome] ")
    assert issubclass(DefinitionWarning, FunnelWarning)


def test_a_sketch_without_any_outcome_does_not_warn():
    sketch = DOUBTFUL.replace('outcome = "lost"\n', "").split("[criteria")[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FunnelWarning)
        assert loads_funnel(sketch).finals == frozenset({"closed", "dropped"})


def test_a_lead_only_funnel_need_not_be_won():
    lead_only = DOUBTFUL.replace('level = "prospect"', 'level = "lead"').replace(
        'guards = ["is_two_way", "is_qualified"]\n', ""
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loads_funnel(lead_only)
    kinds = [w.message.kind for w in caught if isinstance(w.message, DefinitionWarning)]
    assert kinds == ["final-without-outcome", "unused-criterion"]


def test_the_shipped_definition_loads_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FunnelWarning)
        assert load_funnel(default_definition_path()) == funnel.DEFAULT_FUNNEL


def test_warnings_become_errors_on_request():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FunnelWarning)
        with pytest.raises(DefinitionWarning):
            loads_funnel(DOUBTFUL)


# -- OpenTelemetry ---------------------------------------------------------------------------


def run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return out.stdout


def test_each_move_is_a_span_with_ids_and_stages_and_refusals_are_errors():
    pytest.importorskip("opentelemetry.sdk")
    out = run(
        """
        import json
        from datetime import datetime, timezone
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import funnel

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        at = datetime(2026, 3, 1, tzinfo=timezone.utc)
        lead = funnel.Lead(id="L1", contact=funnel.Contact(name="Ada Lovelace",
                           email="ada@acme.example"), source="web", created_at=at)
        tracer = trace.get_tracer("app")
        with tracer.start_as_current_span("request"):
            funnel.advance(lead, "nurture", at=at)
        try:
            funnel.convert(lead, at=at)
        except funnel.FunnelError:
            pass
        spans = [
            {"name": s.name, "attributes": dict(s.attributes), "status": s.status.status_code.name,
             "parent": s.parent.span_id if s.parent else None,
             "events": [dict(e.attributes) for e in s.events]}
            for s in exporter.get_finished_spans()
        ]
        request = [s for s in exporter.get_finished_spans() if s.name == "request"][0]
        print(json.dumps({"spans": spans, "request": request.context.span_id}))
        """
    )
    result = json.loads(out)
    moves = [s for s in result["spans"] if s["name"] == "funnel.transition"]
    assert len(moves) == 2
    ok, refused = moves
    assert ok["attributes"] == {
        "funnel.record.id": "L1",
        "funnel.record.type": "Lead",
        "funnel.event": "nurture",
        "funnel.from_stage": "acquired",
        "funnel.to_stage": "nurturing",
        "funnel.funnel": "sources",
    }
    assert ok["parent"] == result["request"]  # nested in the application's span
    assert refused["status"] == "ERROR"
    assert refused["attributes"]["funnel.event"] == "convert"
    assert "funnel.to_stage" not in refused["attributes"]
    assert refused["events"][0]["exception.type"].endswith("NotQualified")
    assert "Lovelace" not in out
    assert "ada@acme.example" not in out


def test_without_a_provider_or_without_opentelemetry_no_span_is_started():
    out = run(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if it were not installed
        from datetime import datetime, timezone
        import funnel
        from funnel._base import log as _log
        at = datetime(2026, 3, 1, tzinfo=timezone.utc)
        lead = funnel.Lead(id="L1", contact=funnel.Contact(name="A"), source="w", created_at=at)
        print(funnel.advance(lead, "nurture", at=at).stage, _log.tracer())
        """
    )
    assert out.split() == ["nurturing", "None"]
    pytest.importorskip("opentelemetry")
    out = run(
        """
        from funnel._base import log as _log
        print(_log.tracer())
        """
    )
    assert out.strip() == "None"  # the API alone, no provider set: not even no-op spans


def test_a_provider_set_after_the_first_move_is_used():
    pytest.importorskip("opentelemetry.sdk")
    out = run(
        """
        from datetime import datetime, timezone
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        import funnel
        from funnel._base import log as _log
        at = datetime(2026, 3, 1, tzinfo=timezone.utc)
        lead = funnel.Lead(id="L1", contact=funnel.Contact(name="A"), source="w", created_at=at)
        funnel.advance(lead, "nurture", at=at)
        before = _log.tracer()
        trace.set_tracer_provider(TracerProvider())
        print(before is None, _log.tracer() is not None)
        """
    )
    assert out.split() == ["True", "True"]
