"""The year's downloads read from SQL as they are written (issue 15): the same cells as the year built through the
ORM, memory flat in the number of projects, the same few queries at any size; and the annual report a page at a
time, showing a return the moment it is approved."""

from __future__ import annotations

import csv
import io
import re
import tempfile
import tracemalloc
from datetime import UTC, date, datetime
from decimal import Decimal

import docx
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AwardVariation,
    CsuRating,
    MeasureValue,
    MonitoringReturn,
    OutputMeasure,
    Payment,
    Priority,
    Project,
    ReturnArrangement,
)
from portal.models.vocabulary import QUARTERS, rag_label
from portal.services import annual_report, delivery_exports
from portal.services import ledger as ledger_service
from portal.services.delivery import year_delivery
from portal.services.disclosure import publish_all
from portal.services.exports import amount, number, write_xlsx
from portal.services.funding import year_funding
from portal.services.returns import approve_return
from portal.services.summary import refresh_stale

MOST_QUERIES = 12
LABEL = "2022-23"


# -- a year with a bit of everything ------------------------------------------------------------------


def add_projects(stream, organisations, start: int, count: int, *, user, priority=None, progress: str = "") -> None:
    """Projects whose names differ in case, with sum and latest measures (one retired, one counting people), returns
    approved, submitted and in draft, payments and a reversal, a variation, a rating and a waived quarter."""
    for n in range(start, start + count):
        project = Project(
            organisation=organisations[n % len(organisations)],
            year=stream.year,
            funding_stream=stream,
            priority=priority if n % 2 else None,
            name=f"{'aBc'[n % 3]}roject {n:03d}",
            amount_pence=100_000 + n,
            actions=[],
        )
        measures = [
            OutputMeasure(
                project=project,
                position=0,
                name="People helped",
                unit="people",
                annual_target=Decimal(40),
                counts_people=True,
            ),
            OutputMeasure(project=project, position=1, name="Hours", unit="hours", combine="latest"),
            OutputMeasure(
                project=project,
                position=2,
                name="Sessions",
                unit="sessions",
                q1_target=Decimal(3),
                q2_target=Decimal(4),
                retired_at=datetime(2022, 9, 1, tzinfo=UTC) if n % 4 == 0 else None,
            ),
        ]
        returns = [
            MonitoringReturn(project=project, quarter=1, status="approved", spend_pence=2_500 + n, progress=progress),
            MonitoringReturn(project=project, quarter=2, status="submitted", spend_pence=1_000, partner_rag="amber"),
            MonitoringReturn(project=project, quarter=3, status="draft", spend_pence=9_999),
        ]
        values = [
            MeasureValue(monitoring_return=mreturn, measure=measure, value=Decimal(n % 7) + quarter_index)
            for quarter_index, mreturn in enumerate(returns)
            for measure in measures
        ]
        money = [
            Payment(
                project=project, amount_pence=50_000, paid_on=date(2022, 5, 1), reference=f"P{n}", recorded_by=user
            ),
            Payment(project=project, amount_pence=1_000, paid_on=date(2022, 5, 1), note="=SUM(A1)"),
        ]
        if n % 3 == 0:
            money.append(
                AwardVariation(project=project, from_pence=project.amount_pence, to_pence=90_000, reason="Cut")
            )
            project.amount_pence = 90_000
        extras = []
        if n % 2:
            extras.append(CsuRating(project=project, quarter=1, rag="red", reason="Slow"))
            extras.append(ReturnArrangement(project=project, quarter=4, not_required=True, reason="Ended early"))
        db.session.add_all([project, *measures, *returns, *values, *money, *extras])
    db.session.commit()
    if start == 0 and count:  # one reversal, of the first project's first payment
        first = db.session.scalars(select(Payment).order_by(Payment.id)).first()
        db.session.add(
            Payment(
                project_id=first.project_id,
                kind="reversal",
                amount_pence=first.amount_pence,
                paid_on=date(2022, 6, 1),
                reverses_id=first.id,
                reason="Wrong account",
                recorded_by=user,
            )
        )
        db.session.commit()


@pytest.fixture
def year_of(make_year, make_stream, make_org, make_user, client, login):
    year = make_year(2022)
    stream = make_stream(year)
    organisations = [
        make_org("ZED", "zed Trust"),
        make_org("ALP", "Alpha Charity"),
        make_org("ALW", "alpha works"),
        make_org("BET", "Beta"),
    ]
    user = make_user(roles=("csu", "finance"))
    login(client, user)
    priority = Priority(year=year, rank=1, name="Victims")
    db.session.add(priority)
    db.session.commit()

    def grow(count: int, **kwargs) -> None:
        start = db.session.scalar(select(db.func.count(Project.id)))
        add_projects(stream, organisations, start, count, user=user, priority=priority, **kwargs)

    grow.year = year  # type: ignore[attr-defined]
    return grow


# -- the rows as they were made before (the year built through the ORM), to compare with ------------------


def _ordered(deliveries):
    return sorted(deliveries, key=lambda d: (d.project.organisation.name.casefold(), d.project.name.casefold()))


def old_project_rows(year):
    return [
        [
            year.label,
            d.project.organisation.name,
            d.project.name,
            d.project.priority.name if d.project.priority else None,
            d.project.funding_stream.name,
            amount(d.project.amount_pence),
            amount(d.paid_pence),
            amount(d.reported_spend_pence),
            d.spend_pct_of_award,
            d.spend_pct_of_profile,
            rag_label(d.spend_rag),
            d.delivery_pct,
            rag_label(d.delivery_rag),
            rag_label(d.partner_rag),
            rag_label(d.csu_rag),
            *(d.status_word(q) for q in QUARTERS),
        ]
        for d in _ordered(year_delivery(year))
    ]


def old_measure_rows(year):
    return [
        [
            year.label,
            d.project.organisation.name,
            d.project.name,
            f.measure.name,
            f.measure.unit,
            f.measure.combine,
            *(number(v) for v in f.quarters),
            number(f.total),
            number(f.measure.annual_target),
            f.pct_of_target,
            " ".join(f"Q{q}" for q in f.provisional_quarters),
        ]
        for d in _ordered(year_delivery(year))
        for f in d.measures
    ]


def _published(value):
    return value if isinstance(value, str) else number(value)


def old_publication_rows(year):
    return [
        [
            year.label,
            d.project.organisation.name,
            d.project.name,
            p.measure.name,
            p.measure.unit,
            p.measure.combine,
            *(_published(v) for v in p.quarters),
            _published(p.total),
            number(p.measure.annual_target),
            p.pct_of_target,
            " ".join(f"Q{q}" for q in p.figures.provisional_quarters),
            "yes" if p.measure.counts_people else "no",
        ]
        for d in _ordered(year_delivery(year))
        for p in publish_all(d.measures)
    ]


def old_allocation_rows(year):
    return [
        [
            year.label,
            i.figures.stream.name,
            i.figures.stream.funder,
            amount(i.figures.stream.amount_pence),
            amount(i.figures.awarded_pence),
            amount(i.figures.unallocated_pence),
            amount(i.paid_pence),
            amount(i.spend_pence),
        ]
        for i in year_funding(year).streams
    ]


def old_ledger_rows(year):
    ledgers = sorted(
        ledger_service.ledgers(year), key=lambda item: (item.project.organisation.name.casefold(), item.project.name)
    )
    return [
        [
            year.label,
            item.project.organisation.name,
            item.project.name,
            e.entry_type,
            e.on,
            amount(e.shown_pence),
            e.reference,
            e.note,
            (e.recorded_by.name or e.recorded_by.email) if e.recorded_by else None,
        ]
        for item in ledgers
        for e in item.entries
    ]


def csv_of(client, path: str) -> list[list[str]]:
    response = client.get(path)
    assert response.status_code == 200, path
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def as_csv(rows) -> list[list[str]]:
    from portal.services.exports import csv_bytes

    return list(csv.reader(io.StringIO(csv_bytes([], rows).decode("utf-8-sig"))))[1:]


# -- the contents -----------------------------------------------------------------------------------------


def test_every_download_says_what_the_year_built_through_the_orm_says(year_of, client):
    year_of(14)
    year = year_of.year
    refresh_stale(year)
    db.session.commit()
    expected = {
        f"/csu/{LABEL}/projects": old_project_rows(year),
        f"/csu/{LABEL}/measures": old_measure_rows(year),
        f"/csu/{LABEL}/measures-for-publication": old_publication_rows(year),
        f"/finance/{LABEL}/allocation": old_allocation_rows(year),
        f"/finance/{LABEL}/ledger": old_ledger_rows(year),
    }
    assert len(expected[f"/csu/{LABEL}/projects"]) == 14
    assert len(expected[f"/finance/{LABEL}/ledger"]) > 14 * 3
    for path, rows in expected.items():
        assert csv_of(client, f"{path}.csv")[1:] == as_csv(rows), path
    # The service rows themselves, typed: Decimal places, dates and blanks as they were.
    assert list(delivery_exports.project_rows(year)) == old_project_rows(year)
    assert list(delivery_exports.measure_rows(year)) == old_measure_rows(year)
    assert list(delivery_exports.publication_measure_rows(year)) == old_publication_rows(year)


def test_projects_are_listed_by_organisation_then_project_regardless_of_case(year_of, client):
    year_of(6)
    rows = csv_of(client, f"/csu/{LABEL}/projects.csv")[1:]
    keys = [(row[1].casefold(), row[2].casefold()) for row in rows]
    assert keys == sorted(keys)
    assert {row[1] for row in rows} == {"zed Trust", "Alpha Charity", "alpha works", "Beta"}


def test_the_projects_download_follows_a_payment_at_once(year_of, client, make_user):
    year_of(2)
    before = {row[2]: row[6] for row in csv_of(client, f"/csu/{LABEL}/projects.csv")[1:]}
    project = db.session.scalars(select(Project).order_by(Project.id)).first()
    db.session.add(Payment(project=project, amount_pence=12_345, paid_on=date(2022, 7, 1)))
    db.session.commit()
    after = {row[2]: row[6] for row in csv_of(client, f"/csu/{LABEL}/projects.csv")[1:]}
    assert Decimal(after[project.name]) == Decimal(before[project.name]) + Decimal("123.45")


# -- memory and queries -----------------------------------------------------------------------------------


def peak_memory_writing(year) -> int:
    tracemalloc.start()
    try:
        with tempfile.TemporaryFile() as target:
            write_xlsx(target, delivery_exports.PROJECT_COLUMNS, delivery_exports.project_rows(year), "Projects")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_projects_download_holds_a_few_rows_at_a_time(year_of, monkeypatch):
    monkeypatch.setattr(delivery_exports, "ROWS_AT_A_TIME", 10)
    year = year_of.year
    year_of(30)
    refresh_stale(year)
    peak_memory_writing(year)  # modules imported and statements compiled before anything is measured
    small = peak_memory_writing(year)
    year_of(270)
    refresh_stale(year)
    peak_memory_writing(year)
    large = peak_memory_writing(year)
    # Nine times the projects: a download that built the year (or read every row before writing) would peak
    # several times higher; read a few rows at a time, the peak stays where it was.
    assert large < small * 1.5, (small, large)


DOWNLOADS = [
    f"/csu/{LABEL}/projects.csv",
    f"/csu/{LABEL}/projects.xlsx",
    f"/csu/{LABEL}/measures.csv",
    f"/csu/{LABEL}/measures.xlsx",
    f"/csu/{LABEL}/measures-for-publication.xlsx",
    f"/finance/{LABEL}/allocation.xlsx",
    f"/finance/{LABEL}/ledger.csv",
    f"/finance/{LABEL}/ledger.xlsx",
    f"/csu/{LABEL}/annual-report",
    f"/csu/{LABEL}/annual-report?page=2",
]


def test_each_download_costs_the_same_few_queries_at_any_size(year_of, client, count_queries):
    def counts() -> dict[str, int]:
        found = {}
        for path in DOWNLOADS:
            client.get(path)  # a first visit may compute summary rows that have fallen due
            with count_queries() as counter:
                assert client.get(path).status_code == 200, path
            found[path] = counter.count
        return found

    year_of(25)
    small = counts()
    year_of(95)
    large = counts()
    assert large == small
    assert max(small.values()) <= MOST_QUERIES, small


# -- the annual report, a page at a time ------------------------------------------------------------------


def report_projects(html: str) -> list[str]:
    return re.findall(r'data-project="(\d+)"', html)


def test_the_annual_report_pages_its_projects_in_report_order(year_of, client):
    year_of(annual_report.PER_PAGE * 2 + 5)
    ids = [str(i) for i in db.session.scalars(select(Project.id).order_by(Project.id))]
    pages = [client.get(f"/csu/{LABEL}/annual-report?page={n}") for n in (1, 2, 3)]
    assert [len(report_projects(page.text)) for page in pages] == [annual_report.PER_PAGE] * 2 + [5]
    assert [found for page in pages for found in report_projects(page.text)] == ids
    first = pages[0].text
    assert 'aria-label="Pages of the annual report"' in first
    assert f'href="/csu/{LABEL}/annual-report?page=2"' in first
    assert f"Showing projects 1 to {annual_report.PER_PAGE} of {len(ids)}, page 1 of 3" in first
    # The stream's totals are the whole stream's on every page; its award rows are the page's.
    assert all("Total awarded" in page.text for page in pages)
    # A page past the last shows the last.
    assert report_projects(client.get(f"/csu/{LABEL}/annual-report?page=99").text) == report_projects(pages[2].text)
    # The .docx still holds every project.
    document = docx.Document(io.BytesIO(client.get(f"/csu/{LABEL}/annual-report.docx").data))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 2"]
    assert len(headings) == len(ids)


def test_a_year_of_300_projects_pages_in_less_than_300_kb(year_of, client):
    year_of(300, progress="We met the families we said we would and more. " * 30)  # about 1,400 characters
    response = client.get(f"/csu/{LABEL}/annual-report")
    assert response.status_code == 200
    assert len(report_projects(response.text)) == annual_report.PER_PAGE
    assert len(response.data) < 300_000, len(response.data)


def test_an_approved_return_shows_in_the_report_at_once(year_of, client, make_user):
    year_of(3)
    mreturn = db.session.scalars(
        select(MonitoringReturn).where(MonitoringReturn.status == "submitted").order_by(MonitoringReturn.id)
    ).first()
    mreturn.progress = "Forty families helped this quarter."
    db.session.commit()
    before = client.get(f"/csu/{LABEL}/annual-report").text
    assert "Forty families helped this quarter." not in before  # only approved progress is published
    approve_return(mreturn, version=mreturn.version, by=make_user("reviewer@example.org"))
    db.session.commit()
    after = client.get(f"/csu/{LABEL}/annual-report").text
    assert "Forty families helped this quarter." in after
