"""`flask reminders send` against a real SMTP server (aiosmtpd): each reminder and digest exactly once, on a
fixed clock across a whole year, however often the command runs, when it is stopped half-way, and while the
mail server is down; nothing for returns reported, waived, of a closed year or of nobody."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    DigestSent,
    FinancialYear,
    MonitoringReturn,
    OutboxMessage,
    Project,
    ReminderSent,
    ReturnArrangement,
    User,
)
from portal.models.types import utcnow
from portal.models.vocabulary import MAIL_QUEUED, MAIL_SENT
from portal.services import demo, mail, reminders
from tests.conftest import mail_config


@pytest.fixture
def app_config(smtp_server):
    return {**mail_config(smtp_server.port), "DIGEST_WEEKDAY": 0}


@pytest.fixture
def world(make_org, make_year, make_stream, make_project, make_user):
    """2026-27 (returns due 14 July, 14 October, 14 January, 14 April): DAVSS with two active partner users
    and a deactivated one; Kenward, whose only user is deactivated; a CSU officer."""
    year = make_year(2026)
    stream = make_stream(year)
    davss = make_org("DAVSS", "Domestic Abuse Volunteer Support Services")
    kenward = make_org("Kenward", "Kenward Trust")
    return {
        "year": year,
        "stream": stream,
        "davss": davss,
        "kenward": kenward,
        "davss_project": make_project(davss, stream, "Support for victims"),
        "kenward_project": make_project(kenward, stream, "Youth project"),
        "a": make_user("a@davss.example", ("partner",), davss),
        "b": make_user("b@davss.example", ("partner",), davss),
        "gone": make_user("gone@davss.example", ("partner",), davss, active=False),
        "kenward_user": make_user("k@kenward.example", ("partner",), kenward, active=False),
        "csu": make_user("csu@council.example", ("csu",)),
    }


def submit(project, quarter: int) -> None:
    db.session.add(
        MonitoringReturn(project=project, quarter=quarter, status="submitted", spend_pence=0, submitted_at=utcnow())
    )
    db.session.commit()


def waive(project, quarter: int) -> None:
    db.session.add(ReturnArrangement(project=project, quarter=quarter, not_required=True, reason="Paused"))
    db.session.commit()


def run(now: datetime | None = None) -> reminders.ReminderReport:
    report = reminders.send_reminders(now)
    reminders.send_digest(now)
    db.session.rollback()
    return report


def sent_rows() -> list[tuple[str, str, int, date]]:
    """(to, kind, quarter, occasion) of every reminder recorded."""
    rows = db.session.execute(
        select(User.email, ReminderSent.kind, ReminderSent.quarter, ReminderSent.occasion)
        .join(User, User.id == ReminderSent.user_id)
        .order_by(ReminderSent.occasion, User.email)
    )
    return [tuple(row) for row in rows]


def outbox_count(kind: str | None = None) -> int:
    query = select(func.count()).select_from(OutboxMessage)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return db.session.scalar(query)


def deliver_everything() -> None:
    report = mail.deliver_due(now=utcnow() + timedelta(days=1), limit=1000)
    assert report.retrying == report.failed == report.unknown == 0


# -- a whole year, twice a day ---------------------------------------------------------------------


def test_a_whole_year_run_twice_a_day_sends_each_reminder_and_digest_once(app, world, smtp_server):
    project = world["davss_project"]
    events = {
        date(2026, 7, 10): lambda: submit(project, 1),  # before it was due: one reminder only
        date(2026, 11, 3): lambda: submit(project, 2),  # late: reminded until then
        date(2026, 9, 1): lambda: waive(project, 3),  # not required: never reminded
        date(2027, 6, 1): lambda: _close(world["year"]),  # a closed year: no more reminders
    }
    day = date(2026, 4, 1)
    with freeze_time(datetime(2026, 4, 1, 5, tzinfo=UTC)) as clock:
        while day <= date(2027, 6, 12):
            if day in events:
                clock.move_to(datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=1))
                events[day]()
            for hour in (5, 17):
                clock.move_to(datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour))
                run()
            day += timedelta(days=1)
        deliver_everything()

    expected = {
        ("due_soon", 1, date(2026, 7, 7)),
        ("due_soon", 2, date(2026, 10, 7)),
        ("overdue", 2, date(2026, 10, 16)),
        ("overdue", 2, date(2026, 10, 23)),
        ("overdue", 2, date(2026, 10, 30)),
        ("due_soon", 4, date(2027, 4, 7)),
        *{("overdue", 4, date(2027, 4, 16) + timedelta(weeks=n)) for n in range(7)},  # to 28 May
    }
    rows = sent_rows()
    for person in ("a@davss.example", "b@davss.example"):
        mine = [(kind, quarter, occasion) for to, kind, quarter, occasion in rows if to == person]
        assert sorted(mine) == sorted(expected), person
    assert {row[0] for row in rows} == {"a@davss.example", "b@davss.example"}  # never the deactivated, never Kenward

    received = Counter(message["Message-ID"] for message in smtp_server.messages)
    assert len(received) == outbox_count() and set(received.values()) == {1}  # every message once, none twice
    reminders_received = [m for m in smtp_server.messages if m["To"].endswith("@davss.example")]
    assert len(reminders_received) == len(rows) == 2 * len(expected)
    assert outbox_count("due_soon") + outbox_count("overdue") == len(rows)

    weeks = db.session.scalars(select(DigestSent.week_of).order_by(DigestSent.week_of)).all()
    assert len(weeks) == len(set(weeks))
    assert all(week.weekday() == 0 for week in weeks)
    assert weeks[0] == date(2026, 3, 30) and weeks[-1] == date(2027, 6, 7)
    assert len(weeks) == (date(2027, 6, 7) - date(2026, 3, 30)).days // 7 + 1
    digests = [m for m in smtp_server.messages if m["To"] == "csu@council.example"]
    assert len(digests) == len(weeks)
    sent_on = db.session.scalars(select(DigestSent.sent_at).order_by(DigestSent.sent_at)).all()
    assert all(at.date().weekday() == 0 for at in sent_on[1:])  # on Mondays, after the first week's catch-up


def _close(year: FinancialYear) -> None:
    year.closed_at = utcnow()
    db.session.commit()


# -- the 7th of January --------------------------------------------------------------------------------


def test_run_on_the_7th_of_january_reminds_of_the_returns_due_on_the_14th_and_nothing_else(app, runner):
    with freeze_time("2026-12-02 12:00:00"):
        demo.load("a-demo-password-long-enough")
        db.session.commit()
    with freeze_time("2027-01-07 07:00:00"):
        result = runner.invoke(args=["reminders", "send"])

    assert result.exit_code == 0, result.output
    rows = db.session.execute(
        select(ReminderSent.kind, ReminderSent.quarter, ReminderSent.occasion, FinancialYear.start_year)
        .join(Project, Project.id == ReminderSent.project_id)
        .join(Project.year)
    ).all()
    assert rows and set(rows) == {("due_soon", 3, date(2027, 1, 7), 2026)}
    reminded = select(OutboxMessage).where(OutboxMessage.kind != "csu_digest")
    recipients = {message.to_address for message in db.session.scalars(reminded)}
    assert recipients == {"davss@demo.test", "kenward@demo.test", "pas@demo.test"}
    subjects = {message.subject for message in db.session.scalars(reminded)}
    assert all("Q3 2026-27" in subject and "14 January 2027" in subject for subject in subjects)
    assert "nobody to remind" in result.output  # CDAP and the CSU's own project have no partner user


# -- stopped half-way, run again ------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"REMINDER_BATCH_SIZE": 4}])
def test_a_run_stopped_half_way_and_run_again_sends_each_once_and_none_missing(app, world, make_project, monkeypatch):
    for number in range(6):
        make_project(world["davss"], world["stream"], f"Project {number}")  # 7 projects x 2 people = 14 mails
    real = reminders._queue_batch
    calls = []

    def dies_on_the_third_batch(batch, mails, now):
        calls.append(len(batch))
        real(batch, mails, now)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")

    with freeze_time("2026-07-07 06:00:00"):
        monkeypatch.setattr(reminders, "_queue_batch", dies_on_the_third_batch)
        with pytest.raises(KeyboardInterrupt):
            reminders.send_reminders()
        db.session.rollback()  # what a killed process leaves: the third batch was never committed
        assert len(sent_rows()) == outbox_count() == 8

        monkeypatch.setattr(reminders, "_queue_batch", real)
        report = reminders.send_reminders()
        db.session.rollback()

    assert (report.queued, report.skipped) == (6, 8)
    keys = db.session.execute(select(ReminderSent.project_id, ReminderSent.quarter, ReminderSent.user_id)).all()
    assert len(keys) == len(set(keys)) == outbox_count() == 14
    addresses = Counter(db.session.scalars(select(OutboxMessage.to_address)))
    assert addresses == {"a@davss.example": 7, "b@davss.example": 7}


# -- the mail server down ------------------------------------------------------------------------------


def test_with_the_mail_server_down_reminders_wait_in_the_outbox_and_go_later(app, world, smtp_server, runner):
    smtp_server.stop()
    with freeze_time("2026-07-07 06:00:00"):
        result = runner.invoke(args=["reminders", "send"])
        assert result.exit_code == 0, result.output
        report = mail.deliver_due()
        assert report.retrying == 3 and report.sent == 0  # two reminders and the CSU's digest
        assert runner.invoke(args=["reminders", "send"]).exit_code == 0  # the timer fires again: nothing new
    statuses = db.session.scalars(select(OutboxMessage.status).where(OutboxMessage.kind == "due_soon")).all()
    assert statuses == [MAIL_QUEUED, MAIL_QUEUED]

    smtp_server.start()
    with freeze_time("2026-07-07 07:00:00"):
        assert mail.deliver_due().sent == 3  # the two reminders and the CSU's digest
    db.session.rollback()
    received = sorted(m["To"] for m in smtp_server.messages)
    assert received == ["a@davss.example", "b@davss.example", "csu@council.example"]
    assert set(db.session.scalars(select(OutboxMessage.status))) == {MAIL_SENT}


# -- who is reminded, and of what ------------------------------------------------------------------------


def test_nothing_for_reported_waived_closed_or_nobody(app, world, make_year, make_stream, make_project):
    project = world["davss_project"]
    submit(project, 1)
    other = make_project(world["davss"], world["stream"], "Waived project")
    waive(other, 1)
    old_year = make_year(2025, closed_at=datetime(2026, 5, 1, tzinfo=UTC))
    old = make_project(world["davss"], make_stream(old_year), "Last year's project")
    with freeze_time("2026-07-07 06:00:00"):
        report = reminders.send_reminders()
        db.session.rollback()
    assert report.queued == 0
    assert [(o.project.name, o.quarter) for o in report.unreachable] == [("Youth project", 1)]
    assert sent_rows() == []
    assert old.id  # a closed year's return due the same day (Q4 of 2025-26 was due 14 April) is never looked at


def test_a_due_date_the_csu_extended_is_reminded_seven_days_before_the_new_date(app, world):
    project = world["davss_project"]
    db.session.add(ReturnArrangement(project=project, quarter=1, due_on=date(2026, 7, 31), reason="Staff away"))
    db.session.commit()
    with freeze_time("2026-07-07 06:00:00"):
        assert run().queued == 0
    with freeze_time("2026-07-24 06:00:00"):
        assert run().queued == 2
    with freeze_time("2026-07-16 06:00:00"):
        assert run().queued == 0  # not overdue: the usual date's overdue reminder is not sent


def test_the_digest_lists_overdue_due_soon_waiting_for_review_and_nobody_to_remind(app, world, smtp_server):
    submit(world["davss_project"], 1)
    with freeze_time("2026-07-20 06:00:00"):  # a Monday: Kenward's Q1 is 6 days overdue
        assert reminders.send_digest() == 1
        assert reminders.send_digest() == 0  # once a week
        mail.deliver_due()
    with freeze_time("2026-07-22 06:00:00"):
        assert reminders.send_digest() == 0
    [digest] = smtp_server.messages
    text = digest.get_body(("plain",)).get_content()
    assert "Overdue: 1" in text and "Youth project, Q1 2026-27" in text
    assert "Waiting for your review: 1" in text and "Support for victims, Q1 2026-27" in text
    assert "nobody can be reminded" in text and "- Kenward Trust" in text
    assert "https://portal.example/csu/due" in text


def test_the_reminder_says_what_is_due_and_links_to_the_return(app, world, smtp_server):
    with freeze_time("2026-07-07 06:00:00"):
        reminders.send_reminders()
        mail.deliver_due()
    message = next(m for m in smtp_server.messages if m["To"] == "a@davss.example")
    assert message["Subject"] == "Reminder: your Q1 2026-27 return for Support for victims is due on 14 July 2026"
    text = message.get_body(("plain",)).get_content()
    assert f"https://portal.example/partner/projects/{world['davss_project'].id}/q1/" in text
    assert "https://portal.example/account" in text


# -- queries: bounded per batch, not per return ----------------------------------------------------------


def _queries_for(app, count_queries, projects: int, world, make_project) -> int:
    """Queries of one run with this many more DAVSS projects due on the day, each mailed to two people."""
    for number in range(projects):
        make_project(world["davss"], world["stream"], f"Extra {projects}-{number}")
    with app.app_context(), freeze_time("2026-07-07 06:00:00"), count_queries() as counter:
        report = reminders.send_reminders()  # in a context of its own, as the command runs
    db.session.rollback()
    assert report.queued == 2 * len(db.session.scalars(select(Project.id)).all()) - 2  # Kenward has nobody
    db.session.execute(ReminderSent.__table__.delete())
    db.session.execute(OutboxMessage.__table__.delete())
    db.session.commit()
    return counter.count


@pytest.mark.parametrize("app_config", [{"REMINDER_BATCH_SIZE": 1000}])
def test_the_query_count_does_not_grow_with_the_number_of_returns(app, world, make_project, count_queries):
    few = _queries_for(app, count_queries, 2, world, make_project)
    many = _queries_for(app, count_queries, 30, world, make_project)
    assert few == many
    assert many <= 15


@pytest.mark.parametrize("app_config", [{"REMINDER_BATCH_SIZE": 10}])
def test_the_query_count_grows_only_per_batch(app, world, make_project, count_queries):
    count = _queries_for(app, count_queries, 29, world, make_project)  # 60 mails: 6 batches
    assert count <= 10 + 6 * 4


# -- preferences: due-soon reminders and the digest are optional; overdue ones always come -----------------


def test_preferences_are_honoured_and_overdue_reminders_cannot_be_turned_off(app, world):
    from portal.models import PendingDigestItem
    from portal.models.vocabulary import DELIVERY_DAILY, DELIVERY_NONE, MAIL_KIND_CSU_DIGEST, MAIL_KIND_DUE_SOON
    from portal.services.preferences import set_preferences

    set_preferences(world["a"], {MAIL_KIND_DUE_SOON: DELIVERY_NONE}, by=world["a"])
    set_preferences(world["b"], {MAIL_KIND_DUE_SOON: DELIVERY_DAILY}, by=world["b"])
    set_preferences(world["csu"], {MAIL_KIND_CSU_DIGEST: DELIVERY_NONE}, by=world["csu"])
    db.session.commit()
    for moment in ("2026-07-07 06:00:00", "2026-07-07 18:00:00", "2026-07-16 06:00:00"):
        with freeze_time(moment):
            run()

    mails = db.session.execute(select(OutboxMessage.to_address, OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert sorted(mails) == [("a@davss.example", "overdue"), ("b@davss.example", "overdue")]  # mandatory
    [line] = db.session.scalars(select(PendingDigestItem)).all()  # b's due-soon reminder, once, for the summary
    assert (line.user_id, line.kind) == (world["b"].id, "due_soon")
    assert "is due on 14 July 2026" in line.text
    assert db.session.scalar(select(func.count()).select_from(DigestSent)) == 0  # the CSU chose none
