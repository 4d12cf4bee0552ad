"""Finance's downloads: exact columns and figures, parsed back, and neutralised against formula injection."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Organisation, Project, User
from portal.services import demo, ledger

ALLOCATION = ["financial_year", "funding_stream", "funder", "total", "awarded", "unallocated", "paid", "reported_spend"]
LEDGER = [
    "financial_year",
    "organisation",
    "project",
    "entry_type",
    "date",
    "amount",
    "reference",
    "note",
    "recorded_by",
]


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list]:
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def demo_finance(app, client, login):
    demo.load("finance-exports-password")
    db.session.commit()
    finance = db.session.scalar(select(User).where(User.email == "finance@demo.test"))
    login(client, finance)
    return finance


def test_allocation_for_the_demo_year(client, demo_finance):
    rows = read_csv(client.get("/finance/2021-22/allocation.csv"))
    assert rows == [
        ALLOCATION,
        [
            "2021-22",
            "PCC Crime Reduction Grant",
            "Kent Police and Crime Commissioner",
            "34218.00",
            "22812.00",
            "11406.00",
            "0.00",
            "0.00",
        ],
    ]
    sheet = read_xlsx(client.get("/finance/2021-22/allocation.xlsx"))
    assert sheet[0] == ALLOCATION
    assert sheet[1][3:6] == [34218, 22812, 11406]  # numbers in Excel, not text


def test_ledger_lists_awards_variations_payments_and_reversals(client, demo_finance):
    davss = db.session.scalar(
        select(Project).join(Organisation).where(Organisation.short_name == "DAVSS", Project.year.has(start_year=2021))
    )
    davss.year.closed_at = None  # the demo closes its past years; this test writes to 2021-22's ledger
    payment = ledger.record_payment(
        davss,
        amount_pence=666_667,
        paid_on=date(2021, 4, 20),
        reference="BACS-77",
        note="First instalment",
        reason=None,
        by=demo_finance,
    )
    ledger.reverse_payment(payment, reason="Wrong account", by=demo_finance)
    ledger.vary_award(davss, to_pence=1_100_000, reason="Extra helpline hours", by=demo_finance)
    db.session.commit()
    rows = read_csv(client.get("/finance/2021-22/ledger.csv"))
    assert rows[0] == LEDGER
    davss_rows = [row for row in rows[1:] if row[1] == "Domestic Abuse Volunteer Support Services"]
    assert [(row[3], row[5]) for row in davss_rows] == [
        ("award", "10000.00"),
        ("payment", "6666.67"),
        ("variation", "1000.00"),
        ("reversal", "-6666.67"),
    ]  # by date; on one day a variation comes before payments
    payment_row = next(row for row in davss_rows if row[3] == "payment")
    assert payment_row[4] == "2021-04-20" and payment_row[6] == "BACS-77" and payment_row[8] == "Finance officer"
    awards = [row for row in rows[1:] if row[3] == "award"]
    assert sorted(Decimal(row[5]) for row in awards) == [
        Decimal(a) for a in ("312.00", "1000.00", "1500.00", "10000.00", "10000.00")
    ]


def test_formula_injection_is_neutralised(client, demo_finance, make_org, make_year, make_stream, make_project):
    year = make_year(2030)
    stream = make_stream(year, name='=HYPERLINK("x")', amount_pence=100)
    make_project(make_org("EVIL", "@SUM(A1)"), stream, "+cmd", amount_pence=100)
    rows = read_csv(client.get("/finance/2030-31/allocation.csv"))
    assert rows[1][1] == '\'=HYPERLINK("x")'
    ledger_rows = read_csv(client.get("/finance/2030-31/ledger.csv"))
    assert ledger_rows[1][1:3] == ["'@SUM(A1)", "'+cmd"]
    sheet = read_xlsx(client.get("/finance/2030-31/ledger.xlsx"))
    assert sheet[1][1:3] == ["'@SUM(A1)", "'+cmd"]
    assert sheet[1][5] == 1  # the amount stays a number


@pytest.mark.parametrize("path", ["/finance/2021-22/allocation.pdf", "/finance/2099-00/ledger.csv"])
def test_unknown_format_or_year_is_404(client, demo_finance, path):
    assert client.get(path).status_code == 404


def test_partners_get_404_for_finance_downloads(client, app, login):
    demo.load("finance-exports-password")
    db.session.commit()
    login(client, db.session.scalar(select(User).where(User.email == "davss@demo.test")))
    for path in ("/finance/2021-22/allocation.csv", "/finance/2021-22/ledger.xlsx"):
        assert client.get(path).status_code == 404
