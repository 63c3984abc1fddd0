"""Writing definitions (funnel.io.definition.write): round trips, tomlkit, comments."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from funnel import DEFAULT_FUNNEL, Funnel, PassRule
from funnel.exceptions import FunnelError, PersistenceError, ValidationError
from funnel.io.definition import (
    dump_funnel,
    load_funnel,
    loads_funnel,
    save_funnel,
)
from funnel.io.definition.locate import FORMATS
from funnel.io.definition.write import update_toml
from funnel.model.qualification import BANT
from funnel.spec.definition import Thresholds, machine_signature
from tests.helpers import ACME


@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_round_trip_file_definition_file(fmt: str, tmp_path: Path) -> None:
    first = loads_funnel(ACME)
    path = tmp_path / f"acme.{fmt}"
    save_funnel(first, path)
    second = load_funnel(path)
    assert second == first
    assert machine_signature(second.machine) == machine_signature(first.machine)
    assert path.read_text() == dump_funnel(second, format=fmt)  # type: ignore[arg-type]


def test_round_trip_of_the_default_is_stable() -> None:
    text = dump_funnel(DEFAULT_FUNNEL)
    assert loads_funnel(text) == DEFAULT_FUNNEL
    assert dump_funnel(loads_funnel(text)) == text


def test_round_trip_custom_framework_unless_and_mixed_events() -> None:
    text = ACME.replace(
        'framework = "BANT"\nat_least = 3',
        'framework = "acme"\ncriteria = ["fit", "budget", "champion"]\nat_least = 2\n'
        'description = "fit, budget, champion"',
    ).replace(
        '[events.sign]\nfrom = "proposal"\nto = "customer"',
        "[events.sign]\ntransitions = [\n"
        '  { from = "proposal", to = "customer", unless = ["has_reason"] },\n'
        '  { from = "proposal", to = "lost" },\n]',
    )
    text += (
        '\n[criteria.champion]\nname = "Champion"\n'
        'question = "Who sells for us?"\naliases = ["sponsor"]\n'
    )
    first = loads_funnel(text)
    assert first.framework.keys == ("fit", "budget", "champion")
    assert first.framework.criterion("sponsor").key == "champion"
    assert [e.guards for e in first.table.options("proposal", "sign")] == [
        (("has_reason", False),),
        (),
    ]
    for fmt in FORMATS:
        again = loads_funnel(dump_funnel(first, format=fmt), format=fmt)
        assert again == first


def test_dump_is_valid_for_a_python_defined_funnel() -> None:
    custom = Funnel(
        machine=DEFAULT_FUNNEL.machine,
        name='with "quotes" and ünïcode',
        version="2026.1",
        framework=BANT.with_rule(PassRule.at_least(3)),
        thresholds=Thresholds(mql=12.5, sql=60),
    )
    assert loads_funnel(dump_funnel(custom)) == custom


# ----------------------------------------------------------------------------- tomlkit


def test_toml_is_written_by_tomlkit_and_parses_back() -> None:
    import tomllib

    import tomlkit

    text = dump_funnel(loads_funnel(ACME))
    assert tomlkit.parse(text).unwrap() == tomllib.loads(text)
    assert text.startswith("# Funnel definition 'acme' version 2, written by funnel.\n")
    assert '[stages.new]\nname = "New"\nlevel = "lead"\ninitial = true\n' in text


def test_header_comment_cannot_be_injected() -> None:
    sneaky = attrs.evolve(
        DEFAULT_FUNNEL, version="1\n[stages.x]\x7f", name="a\r\nb\u2028c\x7f\x1b[31m"
    )
    text = dump_funnel(sneaky)
    header = text.splitlines()[0]
    assert header.startswith("# Funnel definition ")
    assert "\\n[stages.x]" in header
    assert not any(line.startswith("[stages.x]") for line in text.splitlines())
    assert text.split("\n[funnel]\n")[0].strip() == header  # the header is one line
    again = loads_funnel(text)
    assert again == sneaky
    assert again.version == "1\n[stages.x]\x7f"
    assert "\x7f" not in header  # DEL and ESC are escaped too
    assert "\x1b" not in header
    with pytest.raises(ValidationError, match="name must not contain NUL"):
        attrs.evolve(DEFAULT_FUNNEL, name="a\x00b")  # a NUL never reaches a file


def test_missing_tomlkit_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "tomlkit", None)  # import tomlkit raises ImportError
    acme = loads_funnel(ACME)  # reading needs no extra
    hint = re.escape('pip install "salesfunnel[toml]"')
    with pytest.raises(FunnelError, match=hint) as info:
        dump_funnel(acme)
    assert "\n" not in str(info.value)
    with pytest.raises(FunnelError, match=hint):
        save_funnel(acme, tmp_path / "acme.toml")
    assert not (tmp_path / "acme.toml").exists()
    save_funnel(acme, tmp_path / "acme.json")  # JSON needs no extra
    assert load_funnel(tmp_path / "acme.json") == acme


def test_importing_the_package_does_not_import_tomlkit() -> None:
    script = (
        "import sys, funnel.io.definition, funnel.cli.definition; print('tomlkit' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_unknown_format_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="unknown format 'yaml'"):
        dump_funnel(DEFAULT_FUNNEL, format="yaml")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- saving in place

COMMENTED = "# Acme's funnel, owned by sales ops.\n" + ACME.replace(
    "[stages.engaged]", "# engaged: they clicked something\n[stages.engaged]"
).replace("mql = 40", "mql = 40  # calibrate each quarter")


def test_saving_back_a_commented_file_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(COMMENTED)
    acme = load_funnel(path)
    save_funnel(acme, path)
    assert path.read_text() == COMMENTED  # comments, order, spelling: untouched
    assert load_funnel(path) == acme


def test_saving_a_changed_funnel_updates_only_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(COMMENTED)
    acme = load_funnel(path)
    changed = attrs.evolve(acme, version="3", thresholds=Thresholds(mql=45, sql=70))
    save_funnel(changed, path)
    text = path.read_text()
    assert load_funnel(path) == changed
    assert text.startswith("# Acme's funnel, owned by sales ops.\n[funnel]\n")
    assert "# engaged: they clicked something\n[stages.engaged]" in text
    assert "mql = 45  # calibrate each quarter\n" in text
    # Only the two changed lines differ: no defaults spelled out, lists kept in the file's order.
    diff = [
        (old, new)
        for old, new in zip(COMMENTED.splitlines(), text.splitlines(), strict=True)
        if old != new
    ]
    assert diff == [
        ('version = "2"', 'version = "3"'),
        ("mql = 40  # calibrate each quarter", "mql = 45  # calibrate each quarter"),
    ]


def test_saving_new_stages_and_events_keeps_comments_and_order(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(COMMENTED)
    extended = ACME.replace(
        "[stages.discovery]", '[stages.nurture]\nlevel = "lead"\n\n[stages.discovery]'
    )
    extended += '\n[events.park]\nfrom = ["new", "engaged"]\nto = "nurture"\n'
    extended += '\n[events.wake]\nfrom = "nurture"\nto = "engaged"\n'
    wanted = loads_funnel(extended)
    save_funnel(wanted, path)
    assert load_funnel(path) == wanted
    assert load_funnel(path).stages == wanted.stages  # the new stage sits where it belongs
    text = path.read_text()
    assert "# engaged: they clicked something" in text
    assert "# calibrate each quarter" in text


def test_saving_a_different_funnel_over_a_file(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(COMMENTED)
    save_funnel(DEFAULT_FUNNEL, path)
    assert load_funnel(path) == DEFAULT_FUNNEL
    assert path.read_text().startswith("# Acme's funnel, owned by sales ops.\n")


def test_saving_over_a_file_that_is_not_toml_writes_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text("this is [not toml\n")
    save_funnel(DEFAULT_FUNNEL, path)
    assert path.read_text() == dump_funnel(DEFAULT_FUNNEL)


def test_update_toml_keeps_a_users_inline_tables() -> None:
    text = ACME + '\n[communication]\nlead = [{ reach = "mass" }]\nprospect = []\n'
    acme = loads_funnel(text)
    assert update_toml(text, acme) == text
    changed = attrs.evolve(acme, version="9")
    updated = update_toml(text, changed)
    assert 'lead = [{ reach = "mass" }]\nprospect = []\n' in updated
    assert loads_funnel(updated) == changed


def test_saving_into_a_missing_folder_is_a_persistence_error(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "acme.toml"
    with pytest.raises(PersistenceError, match=r"cannot write funnel definition .*acme\.toml"):
        save_funnel(DEFAULT_FUNNEL, target)


def test_the_toml_extra_brings_tomlkit() -> None:
    import tomllib

    pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    assert extras["toml"] == ["tomlkit>=0.13"]
    included = {
        name for spec in extras["all"] for name in spec.split("[")[1].rstrip("]").split(",")
    }
    assert "toml" in included


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("folder", PersistenceError),
        ("x" * 300 + ".toml", PersistenceError),
        ("no/such/folder/f.toml", PersistenceError),
        ("a\x00b.toml", ValidationError),
        ("", ValidationError),
    ],
    ids=["directory", "name-too-long", "missing-folder", "nul", "empty"],
)
def test_saving_to_a_path_that_cannot_be_written_is_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, error: type
) -> None:
    """A file name too long escaped as OSError, a NUL as ValueError."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(error):
        save_funnel(DEFAULT_FUNNEL, path)


@pytest.mark.parametrize("value", ["acme", 5, None], ids=["str", "int", "none"])
def test_writing_something_that_is_no_funnel_is_refused(tmp_path: Path, value: object) -> None:
    """dump_funnel("acme") raised AttributeError."""
    with pytest.raises(ValidationError, match=r"expected a funnel\.Funnel"):
        dump_funnel(value)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"expected a funnel\.Funnel"):
        save_funnel(value, tmp_path / "f.toml")  # type: ignore[arg-type]
    assert not (tmp_path / "f.toml").exists()
