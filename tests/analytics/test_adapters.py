"""CRM export adapters: each reads a small sample file written here, by its documented names."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from funnel.analytics import funnel_report, load_frame
from funnel.analytics.adapters import ADAPTERS, CRM_STEPS, load_export, read_export
from funnel.exceptions import LoadError, ValidationError

SF_HISTORY = """Id,OpportunityId,StageName,Amount,Probability,CloseDate,CreatedDate
008A1,006A,Prospecting,1000,10,2026-03-31,2026-01-05T09:00:00.000Z
008A2,006A,Prospecting,1200,10,2026-03-31,2026-01-06T09:00:00.000Z
008A3,006A,Negotiation/Review,1200,90,2026-03-31,2026-01-10T09:00:00.000+0000
008A4,006A,Closed Won,1500,100,2026-01-20,2026-01-20T09:00:00.000Z
008B1,006B,Qualification,500,10,2026-02-28,2026-01-07T10:00:00.000Z
008B2,006B,Closed Lost,,0,2026-02-01,2026-02-01T10:00:00.000Z
008C1,006C,Prospecting,700,10,2026-04-30,2026-01-08T10:00:00.000Z
"""

SF_FIELD_HISTORY = """Id,OpportunityId,Field,DataType,OldValue,NewValue,CreatedDate
017A0,006A,created,Text,,,2026-01-01T08:00:00.000Z
017A1,006A,StageName,Picklist,Prospecting,Id. Decision Makers,2026-01-02T08:00:00.000Z
017A2,006A,Amount,Currency,100,200,2026-01-02T09:00:00.000Z
017A3,006A,StageName,Picklist,Id. Decision Makers,Closed Won,2026-01-03T08:00:00.000Z
017B1,006B,StageName,Picklist,Prospecting,Pilot,2026-01-04T08:00:00.000Z
"""

HS_HISTORY = """dealId,property,value,timestamp,sourceType
101,dealstage,appointmentscheduled,1767603600000,CRM_UI
101,amount,5000,1767603600000,CRM_UI
101,dealstage,contractsent,2026-01-08T12:00:00.000Z,CRM_UI
101,dealstage,closedwon,1768219200000,CRM_UI
102,dealstage,qualifiedtobuy,1767690000000,CRM_UI
102,dealstage,closedlost,1767776400000,CRM_UI
"""

HS_DEALS = (
    "hs_object_id,amount,hubspot_owner_id,hs_date_entered_appointmentscheduled,"
    'hs_v2_date_entered_closedwon,"Date entered ""Closed Lost (Sales Pipeline)"""\n'
    "201,100,7,2026-01-01T00:00:00Z,2026-01-05T00:00:00Z,\n"
    "202,200,8,,,2026-01-04T00:00:00Z\n"
    "203,300,7,2026-01-02T00:00:00Z,,\n"
)

ODOO_TRACKING = (
    "mail_message_id.res_id,mail_message_id.model,field,"
    "old_value_char,new_value_char,new_value_integer,create_date\n"
    """7,crm.lead,stage_id,New,Qualified,2,2026-01-02 10:00:00
7,crm.lead,stage_id,Qualified,Proposition,3,2026-01-03 10:00:00
7,crm.lead,active,,,0,2026-01-04 10:00:00
8,crm.lead,stage_id,New,Won,4,2026-01-05 10:00:00
9,res.partner,stage_id,New,Won,4,2026-01-05 10:00:00
"""
)

ODOO_LEADS = """id,name,create_date,stage_id,expected_revenue,user_id,source_id,team_id,active
7,Acme,2026-01-01 09:00:00,Proposition,900,Ann,Website,Europe,False
8,Bolt,2026-01-01 09:30:00,Won,100,Bob,Referral,America,True
10,Cog,2026-01-06 12:00:00,New,50,Ann,Website,Europe,True
"""

PD_FLOW = """deal_id,object,field_key,old_value,new_value,log_time
5,dealChange,stage_id,1,2,2026-01-02 10:00:00
5,dealChange,value,100,150,2026-01-02 11:00:00
5,dealChange,stage_id,2,3,2026-01-03 10:00:00
5,dealChange,status,open,won,2026-01-04 10:00:00
6,dealChange,status,open,lost,2026-01-05 10:00:00
"""

PD_DEALS = """id,value,stage_id,status,add_time,stage_change_time,won_time,lost_time,user_id
5,150,Proposal Made,won,2026-01-01 00:00:00,2026-01-03 10:00:00,2026-01-04 10:00:00,,11
6,80,Qualified,lost,2026-01-02 00:00:00,,,2026-01-05 10:00:00,12
7,60,Demo Scheduled,open,2026-01-03 00:00:00,2026-01-06 00:00:00,,,11
"""

PD_IDS = {"1": "opportunity", "2": "opportunity", "3": "stakeholder"}


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


def rows(log: pl.DataFrame, *cols: str) -> list[tuple[object, ...]]:
    return list(log.select(cols).iter_rows())


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# --------------------------------------------------------------------------- registry


def test_registry_names_four_crms_with_standard_closed_stages():
    assert sorted(ADAPTERS) == ["hubspot", "odoo", "pipedrive", "salesforce"]
    assert ADAPTERS["salesforce"].default_stages["Closed Won"] == "won"
    assert ADAPTERS["salesforce"].default_stages["Closed Lost"] == "lost"
    assert ADAPTERS["hubspot"].default_stages["closedwon"] == "won"
    assert ADAPTERS["hubspot"].default_stages["closedlost"] == "lost"
    assert ADAPTERS["pipedrive"].default_stages["won"] == "won"
    assert ADAPTERS["pipedrive"].default_stages["lost"] == "lost"
    assert ADAPTERS["odoo"].default_stages["Won"] == "won"


def test_unknown_crm_is_a_validation_error(tmp_path):
    with pytest.raises(ValidationError, match="crm must be one of hubspot, odoo") as info:
        read_export(write(tmp_path, "x.csv", SF_HISTORY), "zoho")
    assert info.value.field == "crm"


def test_a_file_of_another_crm_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="not a odoo export"):
        read_export(write(tmp_path, "x.csv", SF_HISTORY), "odoo")


def test_missing_file_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="cannot read CSV"):
        read_export(tmp_path / "absent.csv", "salesforce")


# --------------------------------------------------------------------------- salesforce


def test_salesforce_opportunity_history(tmp_path):
    log = read_export(write(tmp_path, "oh.csv", SF_HISTORY), "salesforce")
    assert rows(log, "lead_id", "at", "stage", "crm_stage", "value") == [
        ("006A", "2026-01-05T09:00:00.000Z", "opportunity", "Prospecting", "1000"),
        ("006A", "2026-01-10T09:00:00.000+0000", "stakeholder", "Negotiation/Review", "1200"),
        ("006A", "2026-01-20T09:00:00.000Z", "won", "Closed Won", "1500"),
        ("006B", "2026-01-07T10:00:00.000Z", "opportunity", "Qualification", "500"),
        ("006B", "2026-02-01T10:00:00.000Z", "lost", "Closed Lost", None),
        ("006C", "2026-01-08T10:00:00.000Z", "opportunity", "Prospecting", "700"),
    ]
    loaded = load_frame(log)
    assert (loaded.n_accepted, loaded.n_rejected) == (6, 0)
    assert loaded.accepted["at"].to_list()[1] == utc(2026, 1, 10, 9)
    assert loaded.accepted["value"].to_list()[2] == 1500.0
    report = funnel_report(loaded, steps=CRM_STEPS)
    assert report.counts == (3, 1, 1)
    assert (report.won, report.lost, report.open) == (1, 1, 1)


def test_salesforce_field_history_dates_the_first_stage_by_the_created_row(tmp_path):
    log = read_export(write(tmp_path, "ofh.csv", SF_FIELD_HISTORY), "salesforce")
    assert rows(log, "lead_id", "at", "stage", "crm_stage") == [
        ("006A", "2026-01-01T08:00:00.000Z", "opportunity", "Prospecting"),
        ("006A", "2026-01-02T08:00:00.000Z", "stakeholder", "Id. Decision Makers"),
        ("006A", "2026-01-03T08:00:00.000Z", "won", "Closed Won"),
        ("006B", "2026-01-04T08:00:00.000Z", "Pilot", "Pilot"),
        ("006B", None, "opportunity", "Prospecting"),  # no 'created' row: no time
    ]
    loaded = load_frame(log)
    assert [(r["row"], r["reason"], r["value"]) for r in loaded.rejections()] == [
        (4, "unknown-stage", "Pilot"),
        (5, "missing-timestamp", None),
    ]


def test_user_mapping_overrides_the_defaults(tmp_path):
    path = write(tmp_path, "ofh.csv", SF_FIELD_HISTORY)
    log = read_export(path, "salesforce", {"Pilot": "stakeholder", "Closed Won": "won"})
    assert log.filter(pl.col("crm_stage") == "Pilot")["stage"].to_list() == ["stakeholder"]


def test_strict_names_the_unknown_stage_and_the_mapping(tmp_path):
    path = write(tmp_path, "ofh.csv", SF_FIELD_HISTORY)
    with pytest.raises(ValidationError, match=r"salesforce stage\(s\) 'Pilot' are not") as info:
        read_export(path, "salesforce", strict=True)
    assert "'Closed Won': 'won'" in str(info.value)
    assert info.value.field == "stages"


def test_a_stage_mapped_to_none_is_left_out_on_purpose(tmp_path):
    path = write(tmp_path, "ofh.csv", SF_FIELD_HISTORY)
    log = read_export(path, "salesforce", {"Pilot": None}, strict=True)
    assert "Pilot" not in log["crm_stage"].to_list()


def test_a_mapping_to_a_stage_the_funnel_lacks_is_refused(tmp_path):
    path = write(tmp_path, "oh.csv", SF_HISTORY)
    with pytest.raises(ValidationError, match="'demo', not stage"):
        read_export(path, "salesforce", {"Prospecting": "demo"})
    with pytest.raises(ValidationError, match="must be a mapping"):
        read_export(path, "salesforce", ["won"])  # type: ignore[arg-type]


def test_report_labels_renamed_with_columns(tmp_path):
    text = SF_HISTORY.replace("OpportunityId", "Opportunity ID").replace(
        "CreatedDate", "Last Modified"
    )
    log = read_export(
        write(tmp_path, "r.csv", text), "salesforce", columns={"Last Modified": "CreatedDate"}
    )
    assert log.height == 6


def test_a_pandas_frame_is_read_too():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "OpportunityId": ["A", "A"],
            "StageName": ["Prospecting", "Closed Won"],
            "CreatedDate": ["2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"],
            "Amount": [10.0, 20.0],
        }
    )
    result = load_export(frame, "salesforce")
    assert (result.n_accepted, result.n_rejected) == (2, 0)
    assert result.accepted["value"].to_list() == [10.0, 20.0]


# --------------------------------------------------------------------------- hubspot


def test_hubspot_property_history_with_epoch_milliseconds(tmp_path):
    log = read_export(write(tmp_path, "h.csv", HS_HISTORY), "hubspot")
    assert rows(log, "lead_id", "at", "stage", "crm_stage") == [
        ("101", "2026-01-05T09:00:00.000Z", "opportunity", "appointmentscheduled"),
        ("101", "2026-01-08T12:00:00.000Z", "stakeholder", "contractsent"),
        ("101", "2026-01-12T12:00:00.000Z", "won", "closedwon"),
        ("102", "2026-01-06T09:00:00.000Z", "opportunity", "qualifiedtobuy"),
        ("102", "2026-01-07T09:00:00.000Z", "lost", "closedlost"),
    ]
    loaded = load_frame(log)
    assert loaded.accepted["at"].to_list()[0] == utc(2026, 1, 5, 9)
    assert funnel_report(loaded, steps=CRM_STEPS).counts == (2, 1, 1)


def test_hubspot_deals_export_date_entered_columns(tmp_path):
    log = read_export(write(tmp_path, "d.csv", HS_DEALS), "hubspot")
    assert rows(log, "lead_id", "at", "stage", "crm_stage", "value", "owner") == [
        ("201", "2026-01-01T00:00:00Z", "opportunity", "appointmentscheduled", "100", "7"),
        ("201", "2026-01-05T00:00:00Z", "won", "closedwon", "100", "7"),
        ("202", "2026-01-04T00:00:00Z", "lost", "Closed Lost", "200", "8"),
        ("203", "2026-01-02T00:00:00Z", "opportunity", "appointmentscheduled", "300", "7"),
    ]
    report = funnel_report(load_frame(log), steps=CRM_STEPS)
    # 202 has only a "Closed Lost" date: no step of the path is known for it, so the
    # report (which counts leads that entered a step) leaves it out
    assert report.counts == (2, 1, 1)
    assert (report.won, report.lost, report.open) == (1, 0, 1)


# --------------------------------------------------------------------------- odoo


def test_odoo_naive_times_are_utc_and_archiving_is_lost(tmp_path):
    log = read_export(write(tmp_path, "t.csv", ODOO_TRACKING), "odoo")
    assert rows(log, "lead_id", "at", "stage", "crm_stage") == [
        ("7", "2026-01-02T10:00:00Z", "opportunity", "Qualified"),
        ("7", "2026-01-03T10:00:00Z", "stakeholder", "Proposition"),
        ("7", "2026-01-04T10:00:00Z", "lost", "Lost"),
        ("7", None, "opportunity", "New"),
        ("8", "2026-01-05T10:00:00Z", "won", "Won"),
        ("8", None, "opportunity", "New"),
    ]
    loaded = load_frame(log)
    assert loaded.accepted["at"].to_list()[0] == utc(2026, 1, 2, 10)
    assert [r["reason"] for r in loaded.rejections()] == ["missing-timestamp"] * 2


def test_odoo_with_the_leads_export(tmp_path):
    tracking = write(tmp_path, "t.csv", ODOO_TRACKING)
    leads = write(tmp_path, "crm_lead.csv", ODOO_LEADS)
    log = read_export(tracking, "odoo", deals=leads)
    assert rows(log, "lead_id", "at", "stage", "crm_stage", "value", "owner", "segment") == [
        ("10", "2026-01-06T12:00:00Z", "opportunity", "New", "50", "Ann", "Europe"),
        ("7", "2026-01-01T09:00:00Z", "opportunity", "New", "900", "Ann", "Europe"),
        ("7", "2026-01-03T10:00:00Z", "stakeholder", "Proposition", "900", "Ann", "Europe"),
        ("7", "2026-01-04T10:00:00Z", "lost", "Lost", "900", "Ann", "Europe"),
        ("8", "2026-01-01T09:30:00Z", "opportunity", "New", "100", "Bob", "America"),
        ("8", "2026-01-05T10:00:00Z", "won", "Won", "100", "Bob", "America"),
    ]
    loaded = load_frame(log)
    assert loaded.n_rejected == 0
    report = funnel_report(loaded, steps=CRM_STEPS)
    assert report.counts == (3, 2, 1)  # a won lead reached stakeholder too (open funnel)
    assert (report.won, report.lost, report.open) == (1, 1, 1)


# --------------------------------------------------------------------------- pipedrive


def test_pipedrive_flow_with_the_deals_export(tmp_path):
    flow = write(tmp_path, "flow.csv", PD_FLOW)
    deals = write(tmp_path, "deals.csv", PD_DEALS)
    log = read_export(flow, "pipedrive", PD_IDS, deals=deals)
    assert rows(log, "lead_id", "at", "stage", "crm_stage", "value") == [
        ("5", "2026-01-01T00:00:00Z", "opportunity", "1", "150"),
        ("5", "2026-01-03T10:00:00Z", "stakeholder", "3", "150"),
        ("5", "2026-01-04T10:00:00Z", "won", "won", "150"),
        ("6", "2026-01-02T00:00:00Z", "opportunity", "Qualified", "80"),
        ("6", "2026-01-05T10:00:00Z", "lost", "lost", "80"),
        # 7 is not in the flow: its snapshot, in its stage since its stage_change_time
        ("7", "2026-01-06T00:00:00Z", "stakeholder", "Demo Scheduled", "60"),
    ]
    report = funnel_report(load_frame(log), steps=CRM_STEPS)
    assert report.counts == (3, 2, 1)


def test_pipedrive_flow_alone_leaves_the_first_stage_undated(tmp_path):
    log = read_export(write(tmp_path, "flow.csv", PD_FLOW), "pipedrive", PD_IDS)
    assert rows(log.filter(pl.col("lead_id") == "5"), "at", "crm_stage") == [
        ("2026-01-02T10:00:00Z", "2"),
        ("2026-01-03T10:00:00Z", "3"),
        ("2026-01-04T10:00:00Z", "won"),
        (None, "1"),  # no deals export: the stage it was added in has no time
    ]


def test_pipedrive_deals_snapshot(tmp_path):
    log = read_export(write(tmp_path, "deals.csv", PD_DEALS), "pipedrive")
    assert rows(log, "lead_id", "at", "stage", "owner") == [
        ("5", "2026-01-03T10:00:00Z", "stakeholder", "11"),
        ("5", "2026-01-04T10:00:00Z", "won", "11"),
        ("6", "2026-01-02T00:00:00Z", "opportunity", "12"),
        ("6", "2026-01-05T10:00:00Z", "lost", "12"),
        ("7", "2026-01-06T00:00:00Z", "stakeholder", "11"),
    ]
    loaded = load_export(write(tmp_path, "deals2.csv", PD_DEALS), "pipedrive")
    assert loaded.accepted["at"].to_list()[2] == utc(2026, 1, 2)
    assert funnel_report(loaded, steps=CRM_STEPS).counts == (3, 2, 1)


def test_pipedrive_a_deal_that_never_moved_is_in_its_stage_since_the_last_change(tmp_path):
    deals = PD_DEALS.replace(
        "6,80,Qualified,lost,2026-01-02 00:00:00,,",
        "6,80,Qualified,lost,2026-01-02 00:00:00,2026-01-03 08:00:00,",
    )
    flow = write(tmp_path, "flow.csv", PD_FLOW)
    log = read_export(flow, "pipedrive", PD_IDS, deals=write(tmp_path, "d.csv", deals))
    assert rows(log.filter(pl.col("lead_id") == "6"), "at", "stage") == [
        ("2026-01-03T08:00:00Z", "opportunity"),
        ("2026-01-05T10:00:00Z", "lost"),
    ]


def test_odoo_leads_that_never_moved_and_archived_leads(tmp_path):
    tracking = write(tmp_path, "t.csv", ODOO_TRACKING)
    leads = write(
        tmp_path,
        "crm_lead.csv",
        "id,create_date,stage_id,date_last_stage_update,active,date_closed\n"
        "11,2026-01-01 09:00:00,Qualified,2026-01-02 09:00:00,True,\n"
        "12,2026-01-01 09:00:00,New,,False,2026-01-09 09:00:00\n"
        "13,2026-01-01 09:00:00,New,,False,\n",
    )
    log = read_export(tracking, "odoo", deals=leads)
    assert rows(
        log.filter(pl.col("lead_id").is_in(["11", "12", "13"])), "lead_id", "at", "stage"
    ) == [
        ("11", "2026-01-02T09:00:00Z", "opportunity"),
        ("12", "2026-01-01T09:00:00Z", "opportunity"),
        ("12", "2026-01-09T09:00:00Z", "lost"),
        ("13", "2026-01-01T09:00:00Z", "opportunity"),
        ("13", None, "lost"),  # archived, but the export does not say when
    ]
    # leads 7 and 8 are tracked but not in this leads export: their first stage has no time
    assert rows(log.filter(pl.col("at").is_null()), "lead_id", "crm_stage") == [
        ("13", "Lost"),
        ("7", "New"),
        ("8", "New"),
    ]


def test_naive_times_of_an_app_export_in_a_given_zone(tmp_path):
    deals = write(
        tmp_path,
        "d.csv",
        'Record ID,Amount,"Date entered ""Appointment Scheduled (Sales Pipeline)"""\n'
        "301,10,2026-01-05 09:00\n"
        "302,20,2026-07-05 09:00:00Z\n",
    )
    refused = load_export(deals, "hubspot")
    assert [r["reason"] for r in refused.rejections()] == ["naive-timestamp"]
    log = read_export(deals, "hubspot", timezone="Europe/Paris")
    assert rows(log, "lead_id", "at", "stage", "value") == [
        ("301", "2026-01-05T08:00:00Z", "opportunity", "10"),
        ("302", "2026-07-05 09:00:00Z", "opportunity", "20"),  # has its offset: kept
    ]
    assert load_export(deals, "hubspot", timezone="Europe/Paris").n_rejected == 0
    with pytest.raises(ValidationError, match="timezone must be an IANA zone"):
        read_export(deals, "hubspot", timezone="Mars/Olympus")


MINI = """
[funnel]
name = "mini"
version = "1"
[stages.new]
name = "New"
level = "lead"
initial = true
[stages.opportunity]
name = "Opportunity"
level = "prospect"
[stages.won]
name = "Won"
level = "prospect"
final = true
outcome = "won"
[stages.lost]
name = "Lost"
level = "prospect"
final = true
outcome = "lost"
[events.open]
from = ["new"]
to = "opportunity"
guards = ["is_two_way", "is_qualified"]
[events.win]
from = ["opportunity"]
to = "won"
[events.lose]
from = ["opportunity"]
to = "lost"
"""


def test_integer_keys_are_text(tmp_path):
    flow = write(tmp_path, "flow.csv", PD_FLOW)
    log = read_export(flow, "pipedrive", {1: "opportunity", 2: "opportunity", 3: "won"})
    assert log.filter(pl.col("crm_stage") == "3")["stage"].to_list() == ["won"]


def test_a_custom_funnel_drops_the_defaults_it_cannot_take(tmp_path):
    from funnel.io.definition import loads_funnel

    mini = loads_funnel(MINI)
    path = write(tmp_path, "oh.csv", SF_HISTORY)
    loaded = load_export(path, "salesforce", funnel=mini)
    # Negotiation/Review -> stakeholder is a default the funnel lacks: rejected, not mapped
    assert [(r["lead_id"], r["value"]) for r in loaded.rejections()] == [
        ("006A", "Negotiation/Review")
    ]
    with pytest.raises(ValidationError, match="'stakeholder', not stage"):
        read_export(path, "salesforce", {"Negotiation/Review": "stakeholder"}, funnel=mini)
