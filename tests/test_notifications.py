"""Notifications against a real SMTP server (aiosmtpd): each event tells exactly the people it concerns, as
they chose (each message, a daily summary, or nothing), with the project, quarter and link, and no return text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import MonitoringReturn, OutboxMessage, PendingDigestItem
from portal.models.vocabulary import (
    DELIVERY_DAILY,
    DELIVERY_NONE,
    MAIL_KIND_DAILY_SUMMARY,
    MAIL_KIND_PAYMENT_RECORDED,
    MAIL_KIND_RETURN_APPROVED,
    MAIL_KIND_RETURN_SENT_BACK,
)
from portal.services import ledger, mail, notifications, preferences
from portal.services import returns as service
from tests.conftest import mail_config

SECRET_PROGRESS = "Progress narrative: 64 referrals from Swanley"
SECRET_CASE_STUDY = "Case study narrative: a survivor moved to safety"
SECRET_CHALLENGES = "Challenges narrative: the refuge had no space"
NARRATIVES = (SECRET_PROGRESS, SECRET_CASE_STUDY, SECRET_CHALLENGES, "Reason narrative: on profile")
PUBLIC = "https://portal.example"
PREFERENCES = f"{PUBLIC}/account/emails"


@pytest.fixture
def app_config(smtp_server):
    return mail_config(smtp_server.port)


@pytest.fixture
def people(two_orgs, make_user):
    """Beside two_orgs' one user per role: a second CSU and DAVSS partner, and an inactive one of each."""
    davss = two_orgs["davss"]
    return {
        **two_orgs,
        "csu_2": make_user("csu2@council.example", ("csu", "admin")),
        "csu_gone": make_user("gone@council.example", ("csu",), active=False),
        "partner_a2": make_user("a2@davss.example", ("partner",), davss),
        "partner_gone": make_user("gone@davss.example", ("partner",), davss, active=False),
        "kenward_2": make_user("b2@kenward.example", ("partner",), two_orgs["kenward"]),
    }


def submit(people, quarter: int = 1) -> MonitoringReturn:
    """DAVSS's return, answered in full (narratives included) and submitted by its partner through the service."""
    project, partner = people["davss_project"], people["partner_a"]
    mreturn = service.save_outputs(project, quarter, {project.measures[0].id: Decimal(64)}, version=0, by=partner)
    mreturn = service.save_spend(project, quarter, 250_000, None, version=mreturn.version, by=partner)
    answers = {
        "progress": SECRET_PROGRESS,
        "case_study": SECRET_CASE_STUDY,
        "challenges": SECRET_CHALLENGES,
        "partner_rag": "green",
        "partner_rag_reason": NARRATIVES[3],
    }
    mreturn = service.save_narrative(project, quarter, answers, version=mreturn.version, by=partner)
    db.session.commit()
    key = f"key-{quarter}".ljust(32, "0")
    result = service.submit_return(project, quarter, version=mreturn.version, submission_key=key, by=partner)
    db.session.commit()
    return result.monitoring_return


def delivered(smtp_server) -> dict[str, object]:
    """Send what is queued; what the server received, by recipient (one message each, or the test fails)."""
    mail.deliver_due()
    received = {message["To"]: message for message in smtp_server.messages}
    assert len(received) == len(smtp_server.messages), "someone got two messages"
    smtp_server.messages.clear()
    return received


def bodies(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def assert_no_narrative(message) -> None:
    for part in bodies(message):
        for narrative in NARRATIVES:
            assert narrative not in part


# -- each event reaches exactly the people it concerns --------------------------------------------


def test_a_submitted_return_tells_the_active_csu_users_only(people, smtp_server):
    mreturn = submit(people)
    received = delivered(smtp_server)
    assert set(received) == {"csu@council.example", "csu2@council.example"}
    message = received["csu@council.example"]
    assert message["Subject"] == (
        "DAVSS submitted the 2021-22 Q1 return for Support for Medium & High Risk Victims - Domestic Abuse"
    )
    text, html = bodies(message)
    for part in (text, html):
        assert "2021-22 Q1" in part
        assert "Domestic Abuse Volunteer Support Services" in part
        assert f"{PUBLIC}/csu/returns/{mreturn.id}" in part
        assert PREFERENCES in part
    assert "Support for Medium &amp; High Risk Victims" in html  # the HTML part is escaped
    assert_no_narrative(message)


def test_sending_back_tells_the_organisations_active_partners_with_the_csus_comment(people, smtp_server):
    mreturn = submit(people)
    delivered(smtp_server)
    comment = "Referrals look high against Q4: please check <them>."
    service.request_changes(mreturn, version=mreturn.version, comment=comment, by=people["csu"])
    db.session.commit()
    received = delivered(smtp_server)
    assert set(received) == {"a@davss.example", "a2@davss.example"}  # never Kenward's, never the inactive one
    message = received["a@davss.example"]
    assert message["Subject"].startswith("Changes requested to the 2021-22 Q1 return for Support for Medium")
    text, html = bodies(message)
    link = f"{PUBLIC}/partner/projects/{mreturn.project_id}/q1/"
    assert comment in text and "please check &lt;them&gt;." in html
    assert link in text and link in html and PREFERENCES in text and PREFERENCES in html
    assert_no_narrative(message)


def test_approving_and_reopening_tell_the_partner_with_the_reason(people, smtp_server):
    mreturn = submit(people)
    delivered(smtp_server)
    mreturn = service.approve_return(mreturn, version=mreturn.version, by=people["csu"])
    db.session.commit()
    received = delivered(smtp_server)
    assert set(received) == {"a@davss.example", "a2@davss.example"}
    assert "was approved" in received["a2@davss.example"]["Subject"]
    assert f"{PUBLIC}/partner/projects/{mreturn.project_id}/q1/" in bodies(received["a2@davss.example"])[0]

    service.reopen_return(mreturn, version=mreturn.version, reason="The spend figure was wrong.", by=people["csu"])
    db.session.commit()
    received = delivered(smtp_server)
    assert set(received) == {"a@davss.example", "a2@davss.example"}
    text, html = bodies(received["a@davss.example"])
    assert "reopened" in received["a@davss.example"]["Subject"]
    assert "The spend figure was wrong." in text and "The spend figure was wrong." in html
    assert "2021-22 Q1" in text
    assert_no_narrative(received["a@davss.example"])


def test_a_payment_tells_the_partner_the_amount_as_money_and_links_its_project(people, smtp_server):
    project = people["kenward_project"]
    ledger.record_payment(
        project,
        amount_pence=123_456,
        paid_on=date(2021, 5, 1),
        reference="INV-1",
        note="Finance's own note",
        reason=None,
        by=people["finance"],
    )
    db.session.commit()
    received = delivered(smtp_server)
    assert set(received) == {"b@kenward.example", "b2@kenward.example"}  # DAVSS never hears of Kenward's money
    message = received["b@kenward.example"]
    assert message["Subject"] == "A payment of £1,234.56 was recorded for Youth Diversionary & Targeted Youth Project"
    text, html = bodies(message)
    for part in (text, html):
        assert "£1,234.56" in part and "1 May 2021" in part and "2021-22" in part
        assert f"{PUBLIC}/partner/projects/{project.id}" in part and PREFERENCES in part
        assert "Finance's own note" not in part


def test_the_csu_sending_back_through_the_page_mails_the_partner(app, people, smtp_server, login):
    """The demo's promise: a return sent back by the CSU reaches that partner's users when the worker runs."""
    mreturn = submit(people)
    delivered(smtp_server)
    client = app.test_client()
    login(client, people["csu"])
    response = client.post(
        f"/csu/returns/{mreturn.id}/request-changes",
        data={"version": str(mreturn.version), "comment": "Please add the helpline calls."},
    )
    assert response.status_code == 302
    received = delivered(smtp_server)
    assert set(received) == {"a@davss.example", "a2@davss.example"}
    assert "Please add the helpline calls." in bodies(received["a@davss.example"])[0]


def test_a_rolled_back_event_queues_nothing(people, smtp_server):
    mreturn = submit(people)
    delivered(smtp_server)
    preferences.set_preferences(
        people["partner_a"], {MAIL_KIND_RETURN_SENT_BACK: DELIVERY_DAILY}, by=people["partner_a"]
    )
    db.session.commit()
    service.request_changes(mreturn, version=mreturn.version, comment="Check.", by=people["csu"])
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 3  # two CSU + one partner
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 2  # the submission's, sent
    assert db.session.scalar(select(func.count()).select_from(PendingDigestItem)) == 0
    assert delivered(smtp_server) == {}


# -- preferences honoured ------------------------------------------------------------------------------


def choose(user, **choices: str) -> None:
    preferences.set_preferences(user, choices, by=user)
    db.session.commit()


def test_none_sends_nothing_and_daily_waits_for_the_summary(people, smtp_server):
    choose(people["partner_a"], **{MAIL_KIND_RETURN_APPROVED: DELIVERY_DAILY})
    choose(people["partner_a2"], **{MAIL_KIND_RETURN_APPROVED: DELIVERY_NONE})
    choose(people["csu_2"], return_submitted=DELIVERY_NONE)
    mreturn = submit(people)
    assert set(delivered(smtp_server)) == {"csu@council.example"}
    service.approve_return(mreturn, version=mreturn.version, by=people["csu"])
    db.session.commit()
    assert delivered(smtp_server) == {}
    [item] = db.session.scalars(select(PendingDigestItem)).all()
    assert (item.user_id, item.kind, item.is_waiting) == (people["partner_a"].id, MAIL_KIND_RETURN_APPROVED, True)
    assert item.link == f"{PUBLIC}/partner/projects/{mreturn.project_id}/q1/"
    assert "2021-22 Q1" in item.text and "approved" in item.text


def test_the_daily_summary_is_sent_once_however_often_the_command_runs(people, smtp_server, runner):
    partner = people["partner_a"]
    choose(partner, **{MAIL_KIND_RETURN_APPROVED: DELIVERY_DAILY, MAIL_KIND_PAYMENT_RECORDED: DELIVERY_DAILY})
    mreturn = submit(people)
    assert set(delivered(smtp_server)) == {"csu@council.example", "csu2@council.example"}
    service.approve_return(mreturn, version=mreturn.version, by=people["csu"])
    db.session.commit()
    assert set(delivered(smtp_server)) == {"a2@davss.example"}  # the colleague chose each message
    ledger.record_payment(
        people["davss_project"], amount_pence=50_000, paid_on=date(2021, 5, 1), reference=None, note=None,
        reason=None, by=people["finance"],
    )  # fmt: skip
    db.session.commit()
    assert set(delivered(smtp_server)) == {"a2@davss.example"}

    for _ in range(3):
        result = runner.invoke(args=["notifications", "summarise"])
        assert result.exit_code == 0, result.output
    received = delivered(smtp_server)
    assert set(received) == {"a@davss.example"}
    summary = received["a@davss.example"]
    text, html = bodies(summary)
    assert summary["Subject"].strip().startswith("Your daily summary for ") and "2 notices" in summary["Subject"]
    assert "was approved" in text and "£500.00" in text
    assert f"{PUBLIC}/partner/projects/{mreturn.project_id}/q1/" in html and PREFERENCES in text
    assert_no_narrative(summary)
    assert (
        db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == MAIL_KIND_DAILY_SUMMARY)
        )
        == 1
    )
    assert not any(item.is_waiting for item in db.session.scalars(select(PendingDigestItem)))


def test_a_notice_after_todays_summary_waits_for_tomorrows(people, smtp_server):
    partner = people["partner_a"]
    choose(partner, **{MAIL_KIND_PAYMENT_RECORDED: DELIVERY_DAILY})
    today = datetime(2021, 6, 1, 8, 0, tzinfo=UTC)

    def pay(pence: int) -> None:
        ledger.record_payment(
            people["davss_project"], amount_pence=pence, paid_on=date(2021, 5, 1), reference=None, note=None,
            reason=None, by=people["finance"],
        )  # fmt: skip
        db.session.commit()

    pay(100)
    assert notifications.summarise(now=today).sent == 1
    pay(200)
    later = notifications.summarise(now=today + timedelta(hours=12))
    assert (later.sent, later.deferred) == (0, 1)  # one summary a day
    assert notifications.summarise(now=today + timedelta(days=1)).sent == 1
    assert notifications.summarise(now=today + timedelta(days=1)).sent == 0
    received = [message for message in _all_sent(smtp_server) if message["To"] == "a@davss.example"]
    assert ["£1.00" in bodies(m)[0] for m in received] == [True, False]
    assert ["£2.00" in bodies(m)[0] for m in received] == [False, True]


def _all_sent(smtp_server) -> list:
    mail.deliver_due()
    return list(smtp_server.messages)


def test_a_person_deactivated_before_the_summary_gets_none(people, smtp_server):
    partner = people["partner_a"]
    choose(partner, **{MAIL_KIND_PAYMENT_RECORDED: DELIVERY_DAILY})
    ledger.record_payment(
        people["davss_project"], amount_pence=100, paid_on=date(2021, 5, 1), reference=None, note=None,
        reason=None, by=people["finance"],
    )  # fmt: skip
    partner.active = False
    db.session.commit()
    delivered(smtp_server)
    report = notifications.summarise()
    assert (report.sent, report.dropped) == (0, 1)
    assert "a@davss.example" not in delivered(smtp_server)
