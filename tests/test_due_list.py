"""The CSU's due list: open years only, the current year first, filters in the URL, when each return was
last reminded; chasing overdue returns (select, preview, send) is the CSU's alone, audited and counted."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from freezegun import freeze_time
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, ReminderSent
from portal.services import reminders

NOW = "2026-12-02 12:00:00"  # 2026-27: Q1 (due 14 July) and Q2 (due 14 October) overdue; Q3 due 14 January


@pytest.fixture(autouse=True)
def clock():
    """The whole test on 2 December 2026 (a sign-in and its requests on one clock); a test may move it."""
    with freeze_time(NOW) as frozen:
        yield frozen


@pytest.fixture
def world(make_org, make_year, make_stream, make_project, make_user):
    current = make_stream(make_year(2026))
    old_open = make_stream(make_year(2024))
    closed = make_stream(make_year(2023, closed_at=datetime(2024, 6, 1, tzinfo=UTC)))
    davss = make_org("DAVSS", "Domestic Abuse Volunteer Support Services")
    pas = make_org("PAS", "Protection Against Stalking")
    cdap = make_org("CDAP", "Community Domestic Abuse Programme")
    return {
        "davss_now": make_project(davss, current, "DAVSS this year"),
        "pas_now": make_project(pas, current, "PAS this year"),
        "cdap_now": make_project(cdap, current, "CDAP this year"),  # nobody to remind
        "davss_old": make_project(davss, old_open, "DAVSS 2024-25"),
        "davss_closed": make_project(davss, closed, "DAVSS 2023-24"),
        "a": make_user("a@davss.example", ("partner",), davss),
        "b": make_user("b@davss.example", ("partner",), davss),
        "p": make_user("p@pas.example", ("partner",), pas),
        "csu": make_user("csu@council.example", ("csu",)),
        "finance": make_user("finance@council.example", ("finance",)),
        "admin": make_user("admin@council.example", ("admin",)),
    }


@pytest.fixture
def as_csu(world, client, login):
    login(client, world["csu"])
    return client


def rows(html: str) -> list[str]:
    """Each row of the due table as 'project year Qn'."""
    body = html.split('id="due-table"', 1)[1]
    return [
        f"{project} {quarter}"
        for project, quarter in re.findall(
            r'<a class="govuk-link" href="/csu/projects/\d+">([^<]+)</a></td>\s*<td[^>]*>([^<]+)</td>', body
        )
    ]


def row_of(html: str, *parts: str) -> str:
    [row] = [row for row in html.split("<tr ")[1:] if all(part in row for part in parts)]
    return row


def test_the_list_holds_open_years_only_the_current_year_first(as_csu):
    page = as_csu.get("/csu/due")
    assert page.status_code == 200
    found = rows(page.text)
    assert found[:6] == [
        "CDAP this year 2026-27 Q1",
        "DAVSS this year 2026-27 Q1",
        "PAS this year 2026-27 Q1",
        "CDAP this year 2026-27 Q2",
        "DAVSS this year 2026-27 Q2",
        "PAS this year 2026-27 Q2",
    ]
    assert all("2023-24" not in row for row in found)  # a closed year's returns never appear
    assert "DAVSS 2024-25 2024-25 Q1" in found  # an open past year's come after this year's
    assert "No active user: nobody can be reminded" in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("year=2024-25", {"DAVSS 2024-25"}),
        ("organisation=PAS", {"PAS this year"}),
        ("state=due_soon&year=2026-27", set()),
        ("state=overdue&organisation=DAVSS&year=2026-27", {"DAVSS this year"}),
    ],
)
def test_filters_come_from_the_url(as_csu, query, expected):
    page = as_csu.get(f"/csu/due?{query}")
    assert page.status_code == 200
    if expected:
        assert {row.rsplit(" ", 2)[0] for row in rows(page.text)} == expected
    else:
        assert "No returns match these filters" in page.text


def test_due_soon_is_a_state_of_its_own(world, client, login, clock):
    clock.move_to("2027-01-05 12:00:00")  # Q3 due on 14 January: due soon
    login(client, world["csu"])
    as_csu = client
    page = as_csu.get("/csu/due?state=due_soon&organisation=DAVSS")
    assert rows(page.text) == ["DAVSS this year 2026-27 Q3"]
    assert "Not yet due" in page.text


def test_finance_and_admin_read_the_list_without_a_chase(world, client, login):
    for who in ("finance", "admin"):
        login(client, world[who])
        page = client.get("/csu/due")
        assert page.status_code == 200
        assert 'name="returns"' not in page.text and "Preview the chase" not in page.text
        refused = client.post("/csu/due/chase", data={"returns": f"{world['davss_now'].id}-1"})
        assert refused.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_partner_is_not_told_the_list_exists(world, client, login):
    login(client, world["a"])
    assert client.get("/csu/due").status_code == 404
    assert client.post("/csu/due/chase", data={"returns": f"{world['davss_now'].id}-1"}).status_code == 404


def test_preview_shows_the_mail_and_sends_nothing(world, as_csu):
    key = f"{world['davss_now'].id}-2"
    page = as_csu.post("/csu/due/chase/preview?state=overdue", data={"returns": key})
    assert page.status_code == 200
    assert "Check the chase before you send it" in page.text
    assert "a@davss.example, b@davss.example" in page.text
    assert "The Community Safety Unit asks for your Q2 2026-27 return for DAVSS this year" in page.text
    assert f'name="returns" value="{key}"' in page.text
    assert 'action="/csu/due/chase?state=overdue"' in page.text
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Select at least one overdue return to chase"),
        ({"returns": "999-1"}, "no longer overdue or cannot be chased"),
        ({"returns": "{cdap}-1"}, "no longer overdue or cannot be chased"),  # nobody to send it to
        ({"returns": "{davss}-3"}, "no longer overdue or cannot be chased"),  # not yet due
        ({"returns": "{closed}-1"}, "no longer overdue or cannot be chased"),  # a closed year
    ],
)
def test_a_bad_selection_is_refused_and_nothing_is_sent(world, as_csu, data, message):
    data = {
        key: value.format(cdap=world["cdap_now"].id, davss=world["davss_now"].id, closed=world["davss_closed"].id)
        for key, value in data.items()
    }
    for url in ("/csu/due/chase/preview", "/csu/due/chase"):
        page = as_csu.post(url, data=data)
        assert page.status_code == 422
        assert "There is a problem" in page.text and message in page.text
        assert page.text.count('href="#returns"') == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert db.session.scalar(select(func.count()).select_from(ReminderSent)) == 0


def test_the_csu_chases_overdue_returns_once_audited_and_last_reminded(world, as_csu):
    keys = [f"{world['davss_now'].id}-1", f"{world['pas_now'].id}-2"]
    done = as_csu.post("/csu/due/chase?state=overdue", data={"returns": keys})
    assert done.status_code == 302 and done.headers["Location"] == "/csu/due?state=overdue"
    messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.to_address)).all()
    assert [(m.to_address, m.kind) for m in messages] == [
        ("a@davss.example", "chase"),
        ("b@davss.example", "chase"),
        ("p@pas.example", "chase"),
    ]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "project.return_chased")).all()
    assert {(event.object_id, event.details["quarter"], event.actor_id) for event in events} == {
        (world["davss_now"].id, 1, world["csu"].id),
        (world["pas_now"].id, 2, world["csu"].id),
    }
    page = as_csu.get("/csu/due?state=overdue")
    again = as_csu.post("/csu/due/chase", data={"returns": keys})  # a second click the same day
    assert "Chase sent: 3 emails about 2 returns." in page.text
    assert "2 December 2026" in row_of(page.text, "DAVSS this year", "2026-27 Q1")  # last reminded
    assert again.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 3


def test_a_daily_reminder_counts_as_last_reminded(world, as_csu, clock):
    clock.move_to("2026-10-16 06:00:00")  # Q2 became overdue yesterday
    reminders.send_reminders()
    clock.move_to(NOW)
    page = as_csu.get("/csu/due?organisation=DAVSS&year=2026-27")
    assert "16 October 2026" in row_of(page.text, "DAVSS this year", "2026-27 Q2")
    assert "Not yet" in row_of(page.text, "DAVSS this year", "2026-27 Q1")


def test_the_list_reads_no_narrative_text(world, as_csu):
    """The list is read for statuses and dates (from each project's summary row); the narratives (thousands of
    characters each) stay in the database."""
    statements: list[str] = []

    def keep(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        assert as_csu.get("/csu/due").status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) > 3, statements  # the list was read (from each project's summary row)
    for statement in reads:
        for column in ("progress", "case_study", "challenges", "partner_rag_reason", "spend_explanation"):
            assert f"monitoring_return.{column}" not in statement, column
