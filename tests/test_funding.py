"""Finance's figures for a year, from services/funding.py directly: per-stream totals and the reconciliation."""

from __future__ import annotations

from datetime import date

import pytest

from portal.extensions import db
from portal.models import MonitoringReturn
from portal.services import ledger
from portal.services.funding import funding_page, reconciliation_page, year_funding


@pytest.fixture
def world(make_org, make_year, make_stream, make_project, make_user):
    """One over-allocated stream with two projects, a stream with none, payments, a reversal and returns."""
    year = make_year(2021)
    grant = make_stream(year, name="Grant", amount_pence=1_000_000)
    make_stream(year, name="Unused fund", amount_pence=50_000)
    zeta = make_project(make_org("BORG", "Borough Trust"), grant, "Zeta", amount_pence=600_000)
    alpha = make_project(make_org("AORG", "Alder Trust"), grant, "Alpha", amount_pence=500_000)
    finance = make_user("finance@example.org", roles=("finance",))
    pay = {"paid_on": date(2021, 5, 1), "reference": None, "note": None, "reason": None, "by": finance}
    ledger.record_payment(alpha, amount_pence=100_000, **pay)
    ledger.reverse_payment(ledger.record_payment(zeta, amount_pence=40_000, **pay), reason="Wrong account", by=finance)
    db.session.add_all(
        [
            MonitoringReturn(project_id=alpha.id, quarter=1, status="approved", spend_pence=30_000),
            MonitoringReturn(project_id=zeta.id, quarter=1, status="draft", spend_pence=999_999),
            MonitoringReturn(project_id=zeta.id, quarter=2, status="submitted", spend_pence=20_000),
        ]
    )
    db.session.commit()
    return {"year": year, "alpha": alpha, "zeta": zeta}


def test_each_stream_sums_its_projects_paid_to_pay_and_reported_spend(world):
    funding = year_funding(world["year"])

    grant, unused = funding.streams
    assert [grant.figures.stream.name, unused.figures.stream.name] == ["Grant", "Unused fund"]
    assert (grant.projects, grant.paid_pence, grant.to_pay_pence, grant.spend_pence) == (2, 100_000, 1_000_000, 50_000)
    assert (unused.projects, unused.paid_pence, unused.to_pay_pence, unused.spend_pence) == (0, 0, 0, 0)
    assert (funding.projects, funding.award_pence, funding.paid_pence, funding.spend_pence) == (
        2,
        1_100_000,
        100_000,
        50_000,
    )


def test_the_funding_page_lists_projects_by_organisation_with_their_figures(world):
    rows = funding_page(world["year"]).rows

    # By organisation, then project; a draft's spend is not reported, the submitted and approved returns' spend is.
    shown = [(row.project.name, row.award_pence, row.paid_pence, row.spend_pence, row.balance_pence) for row in rows]
    assert shown == [
        ("Alpha", 500_000, 100_000, 30_000, 400_000),
        ("Zeta", 600_000, 0, 20_000, 600_000),
    ]


def test_reconciliation_rows_set_award_and_paid_against_reported_spend(world):
    found = reconciliation_page(world["year"])

    assert [(row.project.name, row.award_pence, row.paid_pence, row.spend_pence) for row in found.rows] == [
        ("Alpha", 500_000, 100_000, 30_000),
        ("Zeta", 600_000, 0, 20_000),
    ]
    assert [(row.underspend_to_recover_pence, row.spent_beyond_payments_pence) for row in found.rows] == [
        (70_000, 0),
        (0, 20_000),
    ]
    assert (found.totals.underspend_to_recover_pence, found.totals.spent_beyond_payments_pence) == (70_000, 20_000)
