"""``funnel report``: foreign exports, and no silent all-zero reports (issue 12)."""

from __future__ import annotations

import json

import pytest

from funnel import DEFAULT_FUNNEL
from funnel.cli import main
from funnel.io.definition import save_funnel

DATE_ONLY = """lead_id,at,stage
a,2026-01-01,acquired
a,2026-01-05,won
b,2026-01-02,acquired
"""

FOREIGN = """id;when;status
a;01/01/2026;New
a;05/01/2026;Won
b;02/01/2026;New
b;03/01/2026;Lost
c;02/01/2026;Limbo
"""


@pytest.fixture
def date_only(tmp_path):
    path = tmp_path / "dates.csv"
    path.write_text(DATE_ONLY)
    return path


@pytest.fixture
def foreign(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(FOREIGN.replace("id;when;status", "lead_id;at;stage"))
    return path


def test_nothing_accepted_is_an_error_with_the_timezone_hint(date_only, capsys):
    code = main(["report", str(date_only)])
    captured = capsys.readouterr()
    assert code == 1
    assert "no row was accepted" in captured.err
    assert "naive-timestamp 3" in captured.err
    assert "--timezone" in captured.err
    assert "\\n" not in captured.err  # the hint is a line of its own, not an escaped newline
    assert any(line.startswith("hint:") for line in captured.err.splitlines())
    assert "Funnel:" not in captured.out  # no all-zero report
    assert "3 rows in: 0 accepted, 3 rejected" in captured.out


def test_timezone_makes_it_a_report(date_only, capsys):
    assert main(["report", str(date_only), "--timezone", "UTC"]) == 0
    out = capsys.readouterr().out
    assert "won 1, lost 0, open 1" in out


def test_min_accepted_sets_the_threshold(date_only, tmp_path, capsys):
    path = tmp_path / "mixed.csv"
    path.write_text(DATE_ONLY + "c,2026-01-03T00:00Z,acquired\n")
    assert main(["report", str(path)]) == 0  # default: any accepted row will do
    assert main(["report", str(path), "--min-accepted", "0.5"]) == 1
    assert "only 25.0% of the rows were accepted" in capsys.readouterr().err
    assert main(["report", str(path), "--min-accepted", "0.25"]) == 0
    with pytest.raises(SystemExit):
        main(["report", str(path), "--min-accepted", "2"])


def test_foreign_export_with_map_date_format_and_separator(foreign, capsys):
    args = ["report", str(foreign), "--separator", ";", "--date-format", "%d/%m/%Y"]
    args += ["--timezone", "UTC", "--map", "New=acquired", "--map", "Won=won"]
    args += ["--map", "Lost=lost"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "5 rows in: 4 accepted, 1 rejected" in out
    assert "won 1, lost 1, open 0" in out
    # the unknown stage names its row and the stage as written
    assert "unknown-stage" in out
    assert "Limbo" in out
    # default steps: the main-path stages present (acquired, won), not the whole path
    assert "organisation" not in out
    assert "stakeholder" not in out


@pytest.mark.parametrize("kind", ["toml", "json", "toml-table"])
def test_map_file(foreign, tmp_path, kind, capsys):
    mapping = {"New": "acquired", "Won": "won", "Lost": "lost"}
    if kind == "json":
        path = tmp_path / "map.json"
        path.write_text(json.dumps(mapping))
    else:
        path = tmp_path / "map.toml"
        lines = [f'{k} = "{v}"' for k, v in mapping.items()]
        path.write_text("\n".join(["[stages]", *lines] if kind == "toml-table" else lines))
    args = ["report", str(foreign), "--separator", ";", "--date-format", "%d/%m/%Y"]
    args += ["--timezone", "UTC", "--map-file", str(path)]
    assert main(args) == 0
    assert "won 1, lost 1, open 0" in capsys.readouterr().out


def test_bad_map_arguments_are_errors(foreign, tmp_path, capsys):
    assert main(["report", str(foreign), "--map", "Won"]) == 1
    assert "NAME=STAGE" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert main(["report", str(foreign), "--map-file", str(bad)]) == 1
    assert "must map names" in capsys.readouterr().err
    assert main(["report", str(foreign), "--map-file", str(tmp_path / "no.toml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_funnel_file(foreign, tmp_path, capsys):
    path = tmp_path / "funnel.toml"
    save_funnel(DEFAULT_FUNNEL, path)
    args = ["report", str(foreign), "--separator", ";", "--date-format", "%d/%m/%Y"]
    args += ["--timezone", "UTC", "--map", "New=acquired", "--map", "Won=won", "--funnel"]
    assert main([*args, str(path)]) == 0
    assert "won 1" in capsys.readouterr().out
    assert main([*args, str(tmp_path / "absent.toml")]) == 1


def test_time_conflicts_are_listed(tmp_path, capsys):
    path = tmp_path / "log.csv"
    path.write_text(
        "lead_id,at,stage\na,2026-01-03T00:00Z,mql\na,2026-01-01T00:00Z,won\n"
        "b,2026-01-01T00:00Z,acquired\n"
    )
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 accepted with a warning" in out
    assert "time-conflict" in out
    assert "won 1" in out


def test_allow_missing_time(tmp_path, capsys):
    path = tmp_path / "snapshot.csv"
    path.write_text("lead_id,at,stage\na,,opportunity\na,2026-01-05T00:00Z,won\nb,,opportunity\n")
    assert main(["report", str(path)]) == 0
    assert "3 rows in: 1 accepted, 2 rejected" in capsys.readouterr().out
    assert main(["report", str(path), "--allow-missing-time"]) == 0
    out = capsys.readouterr().out
    assert "3 rows in: 3 accepted, 0 rejected" in out
    assert "won 1, lost 0, open 1" in out


def test_real_maven_export_through_the_cli(shared_data, tmp_path, capsys):
    from funnel.analytics.datasets import maven_log

    path = tmp_path / "maven.parquet"
    maven_log(shared_data).reverse().write_parquet(path)  # newest first
    assert main(["report", str(path), "--timezone", "UTC", "--allow-missing-time"]) == 0
    out = capsys.readouterr().out
    assert "23811 rows in: 23811 accepted, 0 rejected" in out
    assert "won 4238, lost 2473, open 2089; win rate on closed 63.15%" in out
    assert "organisation" not in out  # default steps: opportunity, stakeholder, won


def test_by_table_masks_addresses_and_names_the_empty_group(tmp_path, capsys):
    """The --by table printed owner addresses in full and the null group as 'None'."""
    path = tmp_path / "by.csv"
    path.write_text(
        "lead_id,at,stage,owner\n"
        "a,2026-01-01T00:00:00Z,acquired,ada.lovelace@acme.example\n"
        "b,2026-01-01T00:00:00Z,acquired,\n"
    )
    assert main(["report", str(path), "--by", "owner"]) == 0
    out = capsys.readouterr().out
    assert "ada.lovelace" not in out
    assert "a***@acme.example" in out
    assert "(none)" in out
    assert "None" not in out


def test_a_map_onto_a_stage_the_funnel_lacks_is_an_error(tmp_path, capsys):
    log = tmp_path / "log.csv"
    log.write_text("lead_id,at,stage\na,2026-01-01T00:00:00Z,Won\n")
    assert main(["report", str(log), "--map", "Won=wonn"]) == 1
    err = capsys.readouterr().err
    assert "'wonn'" in err
    assert "Traceback" not in err
