"""funnel demo runs the built-in story and explains every lead."""

from __future__ import annotations

import io

from funnel import Prospect
from funnel.cli import main
from funnel.cli.demo import run, stories


def test_stories_end_where_the_demo_says():
    """Acme is won, Globex nurtured, Initech still acquired, Umbrella lost."""
    final = {record.id: record.stage for _, record, _ in stories()}
    assert final == {
        "acme": "won",
        "globex": "nurturing",
        "initech": "acquired",
        "umbrella": "lost",
    }


def test_consent_survives_conversion():
    """Umbrella opted out as a lead and is still opted out as a prospect."""
    umbrella = next(r for _, r, _ in stories() if r.id == "umbrella")
    assert isinstance(umbrella, Prospect)
    assert umbrella.contact.consent.opted_out


def test_output_explains_each_lead():
    """The printed demo says where each lead stands and why."""
    out = io.StringIO()
    assert run(out) == 0
    text = out.getvalue()
    assert "prospect 'acme' in stage 'won'" in text
    assert "means: not-met (rep:maria on 2026-09-03)" in text
    assert "no budget until next fiscal year" not in text  # notes stay out of reasons
    assert "no two-way communication" in text
    assert "closed in stage 'lost': chose a competitor" in text


def test_cli_demo(capsys):
    """funnel demo on the command line prints the story and exits 0."""
    assert main(["demo"]) == 0
    assert "Acme Logistics" in capsys.readouterr().out


def test_cli_without_command(capsys):
    """funnel with no command prints help and exits 2."""
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out
