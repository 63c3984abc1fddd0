"""``funnel import CRM EXPORT -o LOG`` and the ``--crm`` options for ``funnel report``."""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl
import pytest

from funnel.analytics import funnel_report, load_csv
from funnel.analytics.adapters import CRM_STEPS
from funnel.cli import build_parser, main
from funnel.cli.crm import add_report_options, load_for_report, parse_stages
from funnel.exceptions import ValidationError

SALESFORCE = """Id,OpportunityId,StageName,Amount,CreatedDate
1,006A,Prospecting,1000,2026-01-05T09:00:00.000Z
2,006A,Pilot,1000,2026-01-06T09:00:00.000Z
3,006A,Closed Won,1500,2026-01-20T09:00:00.000Z
4,006B,Qualification,500,2026-01-07T10:00:00.000Z
5,006B,Closed Lost,,2026-02-01T10:00:00.000Z
"""

ODOO_TRACKING = """mail_message_id.res_id,field,old_value_char,new_value_char,create_date
7,stage_id,New,Proposition,2026-01-03 10:00:00
7,stage_id,Proposition,Won,2026-01-09 10:00:00
"""

ODOO_LEADS = """id,create_date,stage_id,expected_revenue,user_id
7,2026-01-01 09:00:00,Won,900,Ann
8,2026-01-02 09:00:00,New,100,Bob
"""

HUBSPOT = """dealId,property,value,timestamp
101,dealstage,appointmentscheduled,1767603600000
101,dealstage,closedwon,1768219200000
"""

PIPEDRIVE = """id,value,stage_id,status,add_time,stage_change_time,won_time,lost_time,user_id
5,150,Proposal Made,won,2026-01-01 00:00:00,2026-01-03 10:00:00,2026-01-04 10:00:00,,11
6,80,Qualified,lost,2026-01-02 00:00:00,,,2026-01-05 10:00:00,12
"""


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


def test_import_writes_a_log_that_report_reads(tmp_path, capsys):
    export = write(tmp_path, "OpportunityHistory.csv", SALESFORCE)
    log = tmp_path / "log.csv"
    assert main(["import", "salesforce", str(export), "-o", str(log)]) == 0
    out = capsys.readouterr().out
    assert "5 stage entries written to" in out
    assert "checked: 5 rows in: 4 accepted, 1 rejected" in out
    assert "1 rejected: unknown-stage" in out
    assert "unmapped CRM stages: Pilot (map them with --stage)" in out
    frame = pl.read_csv(log, infer_schema=False)
    assert frame.columns == ["lead_id", "at", "stage", "crm_stage", "value"]
    report = funnel_report(load_csv(log), steps=CRM_STEPS)
    assert report.counts == (2, 1, 1)
    assert main(["report", str(log), "--steps", ",".join(CRM_STEPS)]) == 0
    assert "win rate on closed 50.00%" in capsys.readouterr().out


def test_stage_options_map_and_leave_out(tmp_path, capsys):
    export = write(tmp_path, "oh.csv", SALESFORCE)
    log = tmp_path / "log.csv"
    args = ["import", "salesforce", str(export), "-o", str(log), "--stage", "Pilot=stakeholder"]
    assert main(args) == 0
    assert "checked: 5 rows in: 5 accepted, 0 rejected" in capsys.readouterr().out
    assert main([*args[:-1], "Pilot=", "--strict"]) == 0
    assert "checked: 4 rows in: 4 accepted, 0 rejected" in capsys.readouterr().out


def test_strict_fails_naming_the_stage(tmp_path, capsys):
    export = write(tmp_path, "oh.csv", SALESFORCE)
    code = main(["import", "salesforce", str(export), "-o", str(tmp_path / "l.csv"), "--strict"])
    assert code == 1
    err = capsys.readouterr().err
    assert "'Pilot'" in err
    assert "stage mapping" in err
    assert not (tmp_path / "l.csv").exists()


def test_odoo_with_leads_is_read_as_utc(tmp_path, capsys):
    tracking = write(tmp_path, "mail_tracking_value.csv", ODOO_TRACKING)
    leads = write(tmp_path, "crm_lead.csv", ODOO_LEADS)
    log = tmp_path / "log.csv"
    code = main(["import", "odoo", str(tracking), "--deals", str(leads), "-o", str(log)])
    assert code == 0
    assert "checked: 4 rows in: 4 accepted, 0 rejected" in capsys.readouterr().out
    frame = pl.read_csv(log, infer_schema=False)
    assert frame["at"].to_list() == [
        "2026-01-01T09:00:00Z",
        "2026-01-03T10:00:00Z",
        "2026-01-09T10:00:00Z",
        "2026-01-02T09:00:00Z",
    ]
    assert frame["owner"].to_list() == ["Ann", "Ann", "Ann", "Bob"]


def test_hubspot_and_pipedrive(tmp_path, capsys):
    log = tmp_path / "log.csv"
    assert main(["import", "hubspot", str(write(tmp_path, "h.csv", HUBSPOT)), "-o", str(log)]) == 0
    assert pl.read_csv(log, infer_schema=False)["at"].to_list() == [
        "2026-01-05T09:00:00.000Z",
        "2026-01-12T12:00:00.000Z",
    ]
    export = write(tmp_path, "deals.csv", PIPEDRIVE)
    assert main(["import", "pipedrive", str(export), "-o", str(log)]) == 0
    assert "checked: 4 rows in: 4 accepted, 0 rejected" in capsys.readouterr().out


def test_errors_exit_1(tmp_path, capsys):
    log = str(tmp_path / "l.csv")
    assert main(["import", "salesforce", str(tmp_path / "absent.csv"), "-o", log]) == 1
    assert "cannot read CSV" in capsys.readouterr().err
    export = str(write(tmp_path, "oh.csv", SALESFORCE))
    assert main(["import", "salesforce", export, "-o", log, "--stage", "Pilot"]) == 1
    assert "--stage takes 'CRM stage=funnel stage'" in capsys.readouterr().err
    assert main(["import", "hubspot", export, "-o", log]) == 1
    assert "not a hubspot export" in capsys.readouterr().err


def test_parse_stages():
    assert parse_stages(["Closed Won=won", " Pilot = "]) == {"Closed Won": "won", "Pilot": None}
    with pytest.raises(ValidationError):
        parse_stages(["=won"])


def test_the_command_is_registered():
    assert "import" in build_parser().format_help()


def test_report_options_for_the_report_command(tmp_path):
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    add_report_options(parser)
    export = str(write(tmp_path, "oh.csv", SALESFORCE))
    assert load_for_report(parser.parse_args([export])) is None
    loaded = load_for_report(
        parser.parse_args([export, "--crm", "salesforce", "--stage", "Pilot=stakeholder"])
    )
    assert str(loaded) == "5 rows in: 5 accepted, 0 rejected"
    assert funnel_report(loaded, steps=CRM_STEPS).counts == (2, 1, 1)


def test_export_timezone(tmp_path, capsys):
    export = write(
        tmp_path, "d.csv", "hs_object_id,hs_date_entered_closedwon\n1,2026-01-05 09:00\n"
    )
    log = tmp_path / "log.csv"
    args = ["import", "hubspot", str(export), "-o", str(log)]
    assert main([*args, "--export-timezone", "Europe/Paris"]) == 0
    assert pl.read_csv(log, infer_schema=False)["at"].to_list() == ["2026-01-05T08:00:00Z"]
    assert main(args) == 0
    assert "1 rejected: naive-timestamp" in capsys.readouterr().out


def test_parquet_output(tmp_path, capsys):
    export = write(tmp_path, "oh.csv", SALESFORCE)
    log = tmp_path / "log.parquet"
    assert main(["import", "salesforce", str(export), "-o", str(log), "--stage", "Pilot="]) == 0
    assert pl.read_parquet(log).height == 4
    assert main(["report", str(log), "--steps", ",".join(CRM_STEPS)]) == 0
    assert "4 rows in: 4 accepted, 0 rejected" in capsys.readouterr().out


def test_report_reads_a_crm_export_directly(tmp_path, capsys):
    """`funnel report --crm salesforce FILE` gives the report `funnel import` + report gives."""
    export = write(tmp_path, "OpportunityHistory.csv", SALESFORCE)
    log = tmp_path / "log.csv"
    stage = ["--stage", "Pilot=stakeholder"]
    assert main(["import", "salesforce", str(export), "-o", str(log), *stage]) == 0
    capsys.readouterr()
    steps = ["--steps", "opportunity,stakeholder,won"]
    assert main(["report", str(log), *steps]) == 0
    via_import = capsys.readouterr().out
    assert main(["report", str(export), "--crm", "salesforce", *stage, *steps]) == 0
    direct = capsys.readouterr().out
    # The same report; only the file named in the title differs.
    assert direct.replace(str(export), "F") == via_import.replace(str(log), "F")
    assert "Won" in direct
