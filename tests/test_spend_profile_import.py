"""`spend_profile` in the year file: four amounts in pounds, checked like other money, adding up to the award."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Project
from portal.services.year_import import YearImportError, import_year

FILE = """\
financial_year: "2021-22"
funding_streams:
  - {{name: PCC Crime Reduction Grant, funder: Kent Police and Crime Commissioner, amount: "34218.00"}}
organisations:
  - {{short_name: DAVSS, name: Domestic Abuse Volunteer Support Services}}
projects:
  - organisation: DAVSS
    name: Support
    funding_stream: PCC Crime Reduction Grant
    amount: "10000.00"
{profile}
"""


def project() -> Project:
    return db.session.scalar(select(Project))


def load(profile: str = "") -> None:
    import_year(FILE.format(profile=f"    spend_profile: {profile}" if profile else ""))
    db.session.commit()


def test_a_spend_profile_is_imported_in_pence(app):
    load('["4000.00", 2000, "2000", 2000.00]')
    assert project().spend_profile == [400_000, 200_000, 200_000, 200_000]


def test_without_one_the_project_has_none(app):
    load()
    assert project().spend_profile is None
    assert project().q1_profile_pence is None


def test_a_changed_profile_updates_the_project_and_is_audited(app):
    load('["4000.00", "2000.00", "2000.00", "2000.00"]')
    load('["2500.00", "2500.00", "2500.00", "2500.00"]')
    assert project().spend_profile == [250_000] * 4
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "project.updated"))
    assert event.details["changes"]["spend_profile"] == [[400_000, 200_000, 200_000, 200_000], [250_000] * 4]
    load()  # taken out of the file: the project goes back to the award ÷ 4
    assert project().spend_profile is None


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ('["5000.00", "5000.00"]', "spend_profile: must list 4 amounts in pounds, one per quarter"),
        ('"10000.00"', "spend_profile: must list 4 amounts in pounds, one per quarter"),
        ('["2500.00", "2500.00", "-2500.00", "7500.00"]', "spend_profile Q3: must not be negative"),
        ('["2500.001", "2500.00", "2500.00", "2500.00"]', "spend_profile Q1: must have no more than 2 decimal places"),
        ('["2500.00", "lots", "2500.00", "2500.00"]', "spend_profile Q2: must be a number of pounds, like 1000.00"),
        ('["2500.00", "2500.00", "2500.00", null]', "spend_profile Q4: is required"),
        (
            '["2500.00", "2500.00", "2500.00", "2000.00"]',
            "spend_profile: the quarters add up to £9,500.00, not the award of £10,000.00",
        ),
    ],
)
def test_a_bad_profile_is_refused_and_nothing_is_written(app, profile, message):
    with pytest.raises(YearImportError) as refused:
        load(profile)
    assert any(message in error and "projects[0] (DAVSS / Support)" in error for error in refused.value.errors), (
        refused.value.errors
    )
    assert project() is None
