"""The definitions of issue 9 at their boundaries, on a fixed clock: when a quarter is due (BST and GMT,
extended, waived), what a missing quarter counts for, targets and profiles to date, and the RAG thresholds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import OutputMeasure, ReturnArrangement
from portal.models.vocabulary import (
    AMBER,
    GREEN,
    NOT_OPEN_LABEL,
    NOT_REQUIRED_LABEL,
    OVERDUE_LABEL,
    RED,
    SPEND_AMBER_FROM,
    SPEND_AMBER_TO,
    SPEND_GREEN_FROM,
    SPEND_GREEN_TO,
)
from portal.services.delivery import project_delivery, spend_rag
from tests.test_delivery import report


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def project(make_org, make_year, make_stream, make_project):
    """2021-22, returns due 14 days after each quarter: Q1 14 July 2021 (BST), Q3 14 January 2022 (GMT)."""
    stream = make_stream(make_year(2021))
    return make_project(
        make_org("DAVSS"),
        stream,
        "Support",
        amount_pence=1_000_000,
        measures=[
            {"name": "Referrals", "annual_target": 800},
            {"name": "Open cases", "combine": "latest", "annual_target": 100},
        ],
    )


def arrange(project, quarter: int, *, due_on: date | None = None, not_required: bool = False) -> None:
    db.session.add(
        ReturnArrangement(project=project, quarter=quarter, due_on=due_on, not_required=not_required, reason="r")
    )
    db.session.commit()


# -- when a quarter is due ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (utc(2021, 7, 13, 12), False),  # the day before, in BST
        (utc(2021, 7, 14, 22, 59, 59), False),  # 23:59:59 BST on the due date
        (utc(2021, 7, 14, 23, 0, 0), True),  # midnight BST: the next day
        (utc(2021, 7, 15, 12), True),  # the day after
    ],
)
def test_q1_is_due_after_its_due_date_in_bst(project, now, due):
    delivery = project_delivery(project, now=now)
    assert delivery.is_due(1) is due
    assert delivery.quarters_to_date == ([1] if due else [])
    assert delivery.missing_quarters == ([1] if due else [])
    assert delivery.status_word(1) == (OVERDUE_LABEL if due else "Not started")
    assert delivery.status_word(2) == "Not started"  # open since 1 July, due in October
    assert delivery.status_word(3) == NOT_OPEN_LABEL


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (utc(2022, 1, 13, 12), False),  # the day before, in GMT
        (utc(2022, 1, 14, 23, 59, 59), False),  # 23:59:59 GMT on the due date
        (utc(2022, 1, 15, 0, 0, 0), True),  # midnight GMT
        (utc(2022, 1, 15, 12), True),  # the day after
    ],
)
def test_q3_is_due_after_its_due_date_in_gmt(project, now, due):
    report(project, 1, {"Referrals": 200})
    report(project, 2, {"Referrals": 200})
    delivery = project_delivery(project, now=now)
    assert delivery.is_due(3) is due
    assert delivery.quarters_to_date == ([1, 2, 3] if due else [1, 2])
    # Referrals: 400 delivered of 200 a quarter to date.
    assert delivery.delivery_pct == (Decimal("66.7") if due else Decimal("100.0"))


def test_a_quarter_reported_early_counts_before_it_is_due(project):
    report(project, 1, {"Referrals": 150}, spend_pence=200_000)
    delivery = project_delivery(project, now=utc(2021, 7, 1, 12))  # Q1 ended yesterday, due 14 July
    assert not delivery.is_due(1)
    assert delivery.quarters_to_date == [1]
    assert delivery.delivery_pct == Decimal("75.0")
    assert delivery.profile_to_date_pence == 250_000


def test_an_extension_moves_the_due_date_to_the_end_of_its_uk_day(project):
    arrange(project, 1, due_on=date(2021, 8, 31))
    before = project_delivery(project, now=utc(2021, 8, 31, 22, 59, 59))  # 23:59:59 BST on 31 August
    after = project_delivery(project, now=utc(2021, 8, 31, 23, 0, 0))
    assert before.quarter(1).due == date(2021, 8, 31) and before.is_extended(1)
    assert not before.is_due(1) and before.quarters_to_date == [] and before.delivery_pct is None
    assert before.status_word(1) == "Not started"
    assert [state.due for state in before.quarter_states][:2] == [date(2021, 8, 31), date(2021, 10, 14)]
    assert after.is_due(1) and after.missing_quarters == [1]
    assert after.status_word(1) == OVERDUE_LABEL
    assert after.delivery_pct == Decimal("0.0")


def test_a_waived_quarter_is_never_due_and_counts_for_nothing(project):
    arrange(project, 2, not_required=True)
    report(project, 1, {"Referrals": 200}, spend_pence=250_000)
    report(project, 3, {"Referrals": 200}, spend_pence=250_000)
    delivery = project_delivery(project, now=utc(2022, 2, 1, 12))  # Q1-Q3 past their due dates
    assert not delivery.is_due(2) and not delivery.is_overdue(2)
    assert delivery.quarters_to_date == [1, 3]
    assert delivery.missing_quarters == []
    assert delivery.status_word(2) == NOT_REQUIRED_LABEL
    assert delivery.quarter_states[1].not_required and not delivery.quarter_states[1].overdue
    assert delivery.delivery_pct == Decimal("100.0")  # 400 of 200 + 200
    assert delivery.profile_to_date_pence == 500_000
    assert delivery.spend_pct_of_profile == Decimal("100.0")


def test_a_waived_quarter_that_was_reported_anyway_still_counts(project):
    arrange(project, 1, not_required=True)
    report(project, 1, {"Referrals": 100})
    delivery = project_delivery(project, now=utc(2021, 8, 1, 12))
    assert delivery.quarters_to_date == [1]
    assert delivery.status_word(1) == "Approved"
    assert delivery.delivery_pct == Decimal("50.0")


# -- what a missing quarter counts for -----------------------------------------------------------


def test_a_due_quarter_missing_counts_as_nothing_delivered(project):
    report(project, 1, {"Referrals": 200, "Open cases": 40}, spend_pence=250_000)
    delivery = project_delivery(project, now=utc(2021, 11, 1, 12))  # Q2 was due on 14 October
    referrals = delivery.measures[0]
    assert delivery.missing_quarters == [2]
    assert referrals.delivered_to_date == Decimal(200)
    assert referrals.target_to_date(delivery.quarters_to_date) == Decimal(400)
    assert delivery.delivery_pct == Decimal("50.0")
    assert delivery.spend_pct_of_profile == Decimal("50.0")  # £2,500 of £5,000 planned by now
    assert delivery.status_word(2) == OVERDUE_LABEL


def test_a_latest_measure_keeps_its_last_reported_value_and_is_left_out_of_delivery(project):
    report(project, 1, {"Referrals": 200, "Open cases": 40})
    report(project, 2, {"Referrals": 200, "Open cases": 55})
    delivery = project_delivery(project, now=utc(2022, 1, 20, 12))  # Q3 missing
    open_cases = delivery.measures[1]
    assert open_cases.total == Decimal(55)
    assert open_cases.pct_of_target == Decimal("55.0")
    assert delivery.delivery_pct == Decimal("66.7")  # referrals only: 400 of 600


# -- quarterly targets and profiles against the ÷ 4 default ---------------------------------------


def test_quarterly_targets_replace_a_quarter_of_the_annual_target(project):
    referrals = db.session.scalar(select(OutputMeasure).where(OutputMeasure.name == "Referrals"))
    report(project, 1, {"Referrals": 150})
    default = project_delivery(project, now=utc(2021, 11, 1, 12))  # Q1, Q2 to date: 800 ÷ 4 × 2 = 400
    assert default.delivery_pct == Decimal("37.5")
    referrals.quarterly_targets = [Decimal(100), Decimal(50), Decimal(300), Decimal(350)]
    db.session.commit()
    own = project_delivery(project, now=utc(2021, 11, 1, 12))  # 100 + 50
    assert own.delivery_pct == Decimal("100.0")


def test_a_spend_profile_replaces_a_quarter_of_the_award(project):
    report(project, 1, {"Referrals": 200}, spend_pence=400_000)
    default = project_delivery(project, now=utc(2021, 8, 1, 12))
    assert default.profile_to_date_pence == 250_000
    assert default.spend_pct_of_profile == Decimal("160.0") and default.spend_rag == RED
    project.spend_profile = [400_000, 200_000, 200_000, 200_000]
    db.session.commit()
    own = project_delivery(project, now=utc(2021, 8, 1, 12))
    assert own.has_own_profile
    assert own.profile_to_date_pence == 400_000 and own.profile_in(2) == 200_000 and own.profile_to(4) == 1_000_000
    assert own.spend_pct_of_profile == Decimal("100.0") and own.spend_rag == GREEN


def test_a_quarter_of_an_award_is_exact_and_rounded_only_to_date(make_org, make_year, make_stream, make_project):
    odd = make_project(make_org("X"), make_stream(make_year(2021)), "Odd", amount_pence=100_001)
    delivery = project_delivery(odd, now=utc(2022, 1, 20, 12))  # three quarters to date
    assert delivery.profile_to_date_pence == 75_001  # 75,000.75 pence, half-up
    assert delivery.profile_to(4) == 100_001


def test_nothing_due_or_reported_means_no_profile_and_no_spend_rating(project):
    delivery = project_delivery(project, now=utc(2021, 5, 1, 12))
    assert delivery.profile_to_date_pence == 0
    assert delivery.spend_pct_of_profile is None and delivery.spend_rag is None
    assert delivery.delivery_pct is None and delivery.delivery_rag is None


# -- the thresholds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("referrals", "pct", "rag"),
    [(180, "90.0", GREEN), (179.8, "89.9", AMBER), (140, "70.0", AMBER), (139.8, "69.9", RED)],
)
def test_delivery_rag_at_its_thresholds(project, referrals, pct, rag):
    measure = db.session.scalar(select(OutputMeasure).where(OutputMeasure.name == "Referrals"))
    measure.unit = "hours"  # allow the decimals the boundary needs
    db.session.commit()
    report(project, 1, {"Referrals": referrals})
    delivery = project_delivery(project, now=utc(2021, 8, 1, 12))  # Q1 to date: 200 referrals
    assert (delivery.delivery_pct, delivery.delivery_rag) == (Decimal(pct), rag)


@pytest.mark.parametrize(
    ("spend_pence", "pct", "rag"),
    [
        (187_250, "74.9", RED),
        (187_500, "75.0", AMBER),
        (224_750, "89.9", AMBER),
        (225_000, "90.0", GREEN),
        (275_000, "110.0", GREEN),
        (275_250, "110.1", AMBER),
        (312_500, "125.0", AMBER),
        (312_750, "125.1", RED),
    ],
)
def test_spend_rag_at_its_thresholds(project, spend_pence, pct, rag):
    report(project, 1, {"Referrals": 200}, spend_pence=spend_pence)
    delivery = project_delivery(project, now=utc(2021, 8, 1, 12))  # Q1 to date: £2,500 planned
    assert (delivery.spend_pct_of_profile, delivery.spend_rag) == (Decimal(pct), rag)


def test_spend_above_the_award_is_red_even_on_profile(project):
    project.spend_profile = [1_000_001, 0, 0, 0]  # a profile beyond the award (after a variation, say)
    db.session.commit()
    report(project, 1, {"Referrals": 200}, spend_pence=1_000_001)
    delivery = project_delivery(project, now=utc(2021, 8, 1, 12))
    assert delivery.spend_pct_of_profile == Decimal("100.0")
    assert delivery.spend_rag == RED
    exactly = spend_rag(Decimal("100.0"), spend_pence=1_000_000, award_pence=1_000_000)
    assert exactly == GREEN  # spending the whole award is not above it


def test_spend_rag_ranges_are_the_vocabularys():
    assert spend_rag(SPEND_GREEN_FROM, spend_pence=0, award_pence=1) == GREEN
    assert spend_rag(SPEND_GREEN_TO, spend_pence=0, award_pence=1) == GREEN
    assert spend_rag(SPEND_AMBER_FROM, spend_pence=0, award_pence=1) == AMBER
    assert spend_rag(SPEND_AMBER_TO, spend_pence=0, award_pence=1) == AMBER
    assert spend_rag(None, spend_pence=0, award_pence=1) is None
