"""
Issue 11: type checkers catch wrong values for the model's closed sets.

A snippet of user code, with deliberate misuse on the lines marked
``# error``, is checked by ``mypy --strict`` (the project's configuration,
with the attrs plugin) in a subprocess. Every marked line must be reported,
and nothing else: correct use type-checks cleanly.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest

from funnel.model.evidence import Verdict, VerdictName
from funnel.model.touch import Channel, ChannelName, Direction, DirectionName, Reach, ReachName

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = textwrap.dedent(
    """
    from datetime import datetime, timezone

    from funnel import Company, Contact, Evidence, PassRule, Touch
    from funnel.model.evidence import Verdict, VerdictName
    from funnel.model.touch import Channel, ChannelName, Direction, DirectionName, ReachName

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)

    # Correct use: strings of the closed sets, enum members, the exported aliases.
    Touch(id="t1", at=at, direction="inbound", channel="email", reach="mass")
    Touch(id="t2", at=at, direction=Direction.OUTBOUND, channel=Channel.CALL, connected=True)
    channel: ChannelName = "chat"
    direction: DirectionName = "inbound"
    reach: ReachName = "personal"
    Touch(id="t3", at=at, direction=direction, channel=channel, reach=reach)
    verdict: VerdictName = "not-met"
    Evidence(criterion="budget", verdict=verdict, source="rep:a", at=at)
    Evidence(criterion="budget", verdict=Verdict.MET, source="rep:a", at=at)
    PassRule.at_least(3)
    Company(name="Acme", employees=12, annual_revenue="1000")
    Contact(name="Ada", email="ada@acme.example")
    import funnel
    from funnel import DEFAULT_FUNNEL, Lead
    lead = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=at)
    funnel.advance(lead, "nurture", at=at)
    funnel.advance(lead, "made_up", at=at, funnel=DEFAULT_FUNNEL)
    DEFAULT_FUNNEL.advance(lead, "nurture", at=at)
    from_data: str = "nurture"
    funnel.fire(lead, from_data, at=at)

    # Misuse: each marked line must be reported.
    Touch(id="t4", at=at, direction="inbound", channel="fax")  # error
    Touch(id="t5", at=at, direction="sideways", channel="email")  # error
    Touch(id="t6", at=at, direction="inbound", channel="email", reach="x")  # error
    Evidence(criterion="budget", verdict="maybe", source="rep:a", at=at)  # error
    text: str = "email"
    Touch(id="t7", at=at, direction="inbound", channel=text)  # error
    Touch(id=7, at=at, direction="inbound", channel="email")  # error
    Touch(id="t8", at=at, direction="inbound", channel="email", sender=5)  # error
    PassRule.at_least("3")  # error
    Contact(name="Ada", email=123)  # error
    Company(name="Acme", employees="12")  # error
    funnel.advance(lead, "nurtur", at=at)  # error
    funnel.advance(lead, from_data, at=at)  # error
    funnel.advance(lead, "convert", at=at)  # error
    """
)


def _expected_lines() -> set[int]:
    return {i for i, line in enumerate(SNIPPET.splitlines(), start=1) if line.endswith("# error")}


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[str]]:
    """Run mypy once on the snippet; map line numbers to error messages."""
    where = tmp_path_factory.mktemp("typing")
    snippet = where / "user_code.py"
    snippet.write_text(SNIPPET, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--cache-dir",
            str(where / "cache"),
            "--no-error-summary",
            "--show-error-codes",
            "--hide-error-context",
            str(snippet),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    errors: dict[int, list[str]] = {}
    for line in done.stdout.splitlines():
        found = re.match(r".*user_code\.py:(\d+): error: (.*)$", line)
        if found:
            errors.setdefault(int(found[1]), []).append(found[2])
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return errors


def test_misuse_is_reported_and_correct_use_is_clean(mypy_errors: dict[int, list[str]]):
    """mypy reports exactly the marked lines: no misuse slips through, no false alarm."""
    assert set(mypy_errors) == _expected_lines(), mypy_errors


@pytest.mark.parametrize(
    ("needle", "field"),
    [
        ('channel="fax"', "channel"),
        ('direction="sideways"', "direction"),
        ('reach="x"', "reach"),
        ('verdict="maybe"', "verdict"),
        ("channel=text", "channel"),
    ],
)
def test_errors_name_the_literal_values(
    mypy_errors: dict[int, list[str]], needle: str, field: str
):
    """The reported type lists the allowed strings, so the user sees what to write."""
    line = next(i for i, t in enumerate(SNIPPET.splitlines(), start=1) if needle in t)
    text = " ".join(mypy_errors.get(line, []))
    assert f'"{field}"' in text
    assert "Literal[" in text


@pytest.mark.parametrize(
    ("alias", "enum"),
    [
        (DirectionName, Direction),
        (ChannelName, Channel),
        (ReachName, Reach),
        (VerdictName, Verdict),
    ],
)
def test_aliases_match_the_enums(alias: object, enum: type[Direction]):
    """Each Literal alias lists exactly its enum's values, in order."""
    assert typing.get_args(alias) == tuple(m.value for m in enum)
