"""Amounts up to the forms' £100,000,000 are stored and read back to the penny on every database.

PostgreSQL's integer stops at 2,147,483,647 pence (£21,474,836.47): above it a save was a 500. The pence columns are
64-bit (migration money_in_64_bit)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AwardVariation,
    FundingStream,
    MonitoringReturn,
    Payment,
    PaymentInstalment,
    Project,
    ReturnRevision,
)
from portal.models.types import utcnow

ABOVE_32_BITS = 2**31  # one penny more than PostgreSQL's integer holds
LARGEST = 100_000_000_00  # £100m, the most any money form accepts


def pence_columns() -> list[tuple[str, str]]:
    return sorted(
        (table.name, column.name)
        for table in db.Model.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_pence")
    )


def test_every_pence_column_is_64_bit(app):
    columns = sa.inspect(db.engine)
    found = pence_columns()
    # stream, project and its 4-quarter profile, variation, instalment, payment, returns, the summary (3)
    assert len(found) == 15
    for table, column in found:
        (declared,) = [c for c in columns.get_columns(table) if c["name"] == column]
        if db.engine.dialect.name == "postgresql":
            assert isinstance(declared["type"], sa.BigInteger), (table, column, declared["type"])
        else:
            assert isinstance(declared["type"], sa.Integer), (table, column)  # SQLite's INTEGER is 64-bit


@pytest.fixture
def csu_client(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["csu"])
    return client


@pytest.fixture
def finance_client(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["finance"])
    return client


def test_the_largest_amounts_go_through_every_money_form_and_back(csu_client, finance_client, two_orgs):
    # A stream, then a project with its quarterly profile, through the CSU's set-up forms.
    response = csu_client.post(
        "/setup/2021-22/streams/new",
        data={"name": "Capital programme", "funder": "Kent Police and Crime Commissioner", "amount": "100,000,000.00"},
    )
    assert response.status_code == 302, response.text
    stream = db.session.scalars(select(FundingStream).where(FundingStream.name == "Capital programme")).one()
    assert stream.amount_pence == LARGEST
    response = csu_client.post(
        "/setup/2021-22/projects/new",
        data={
            "organisation": str(two_orgs["davss"].id),
            "name": "New refuge",
            "funding_stream": str(stream.id),
            "amount": "90,000,000.01",
            "actions": "",
            "description": "",
            "q1_profile": "22,500,000.01",
            "q2_profile": "22,500,000.00",
            "q3_profile": "22,500,000.00",
            "q4_profile": "22,500,000.00",
        },
    )
    assert response.status_code == 302, response.text
    project = db.session.scalars(select(Project).where(Project.name == "New refuge")).one()
    assert project.amount_pence == 9_000_000_001
    assert [project.q1_profile_pence, project.q2_profile_pence] == [2_250_000_001, 2_250_000_000]

    # A stream changed to more again, through its edit form.
    response = csu_client.post(
        f"/setup/streams/{stream.id}/edit",
        data={"name": "Capital programme", "funder": "The PCC", "amount": "99,999,999.99"},
    )
    assert response.status_code == 302, response.text
    db.session.expire_all()
    assert db.session.get(FundingStream, stream.id).amount_pence == LARGEST - 1

    # Finance: a variation, an instalment and a payment, each above the old limit.
    response = finance_client.post(
        f"/finance/projects/{project.id}/variations", data={"amount": "99,999,999.99", "reason": "Land bought"}
    )
    assert response.status_code == 302, response.text
    response = finance_client.post(
        f"/finance/projects/{project.id}/instalments",
        data={"amount": "50,000,000.05", "due_on": ["", "", ""], "after_quarter": "", "note": ""},
    )
    assert response.status_code == 302, response.text
    response = finance_client.post(
        f"/finance/projects/{project.id}/payments",
        data={
            "amount": "25,000,000.03",
            "paid_on": ["1", "5", "2021"],
            "reference": "BACS-9",
            "note": "",
            "reason": "",
        },
    )
    assert response.status_code == 302, response.text
    db.session.expire_all()
    variation = db.session.scalars(select(AwardVariation).where(AwardVariation.project_id == project.id)).one()
    assert (variation.from_pence, variation.to_pence) == (9_000_000_001, LARGEST - 1)
    instalment = db.session.scalars(select(PaymentInstalment).where(PaymentInstalment.project_id == project.id)).one()
    assert instalment.amount_pence == 5_000_000_005
    payment = db.session.scalars(select(Payment).where(Payment.project_id == project.id)).one()
    assert payment.amount_pence == 2_500_000_003
    page = finance_client.get(f"/finance/projects/{project.id}").text
    assert "£99,999,999.99" in page and "£50,000,000.05" in page and "£25,000,000.03" in page


def test_returns_and_revisions_hold_amounts_above_32_bits(app, two_orgs):
    """No form lets a partner report more than £1m a quarter, but the columns hold what the ledger can."""
    project = db.session.get(Project, two_orgs["davss_project"].id)
    mreturn = MonitoringReturn(project=project, quarter=1, status="submitted", spend_pence=ABOVE_32_BITS)
    db.session.add(mreturn)
    db.session.flush()
    db.session.add(
        ReturnRevision(
            return_id=mreturn.id,
            number=1,
            submission_key="k" * 32,
            values={},
            spend_pence=LARGEST,
            submitted_at=utcnow(),
        )
    )
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(MonitoringReturn, mreturn.id).spend_pence == ABOVE_32_BITS
    assert db.session.scalars(select(ReturnRevision.spend_pence)).one() == LARGEST
