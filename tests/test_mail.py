"""The outbox and its worker, against a real SMTP server (aiosmtpd) in this process: mail is written with its
event, sent once, retried with back-off when refused, and never sent twice by a worker that was stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from portal.config import mail_settings
from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage
from portal.models.types import utcnow
from portal.models.vocabulary import MAIL_FAILED, MAIL_QUEUED, MAIL_SENDING, MAIL_SENT, MAIL_UNKNOWN
from portal.services import mail
from portal.smtp import DEFAULT_PORTS, SmtpSettings
from tests.conftest import free_port, mail_config


@pytest.fixture
def app_config(smtp_server):
    return mail_config(smtp_server.port)


def queue(to: str = "person@example.org", text: str = "Plain words", html: str = "<p>HTML words</p>") -> int:
    message = mail.queue_mail(to, kind="invitation", subject="A subject", parts=(text, html))
    db.session.commit()
    return message.id


def row(message_id: int) -> OutboxMessage:
    db.session.rollback()
    message = db.session.get(OutboxMessage, message_id)
    assert message is not None
    return message


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# -- written with the event ---------------------------------------------------------------------


def test_a_rolled_back_change_sends_nothing(app, smtp_server):
    mail.queue_mail("person@example.org", kind="invitation", subject="S", parts=("T", "<p>H</p>"))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert mail.deliver_due().sent == 0
    assert smtp_server.messages == []


def test_a_line_break_cannot_reach_a_header(app):
    with pytest.raises(mail.MailError):
        mail.queue_mail("a@example.org\r\nBcc: b@example.org", kind="invitation", subject="S", parts=("T", "H"))


# -- sent once, in two parts ----------------------------------------------------------------------


def test_the_worker_sends_plain_text_and_html_and_marks_the_message_sent(app, runner, smtp_server):
    message_id = queue(html="<p>HTML &amp; words</p>")
    result = runner.invoke(args=["mail", "deliver"])
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output
    [received] = smtp_server.messages
    assert received["To"] == "person@example.org"
    assert received["Subject"] == "A subject"
    assert received["From"] == app.config["MAIL_FROM"]
    assert received["Message-ID"].startswith(f"<outbox-{message_id}-")
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content_type() == "multipart/alternative"
    assert received.get_body(("plain",)).get_content().strip() == "Plain words"
    assert received.get_body(("html",)).get_content().strip() == "<p>HTML &amp; words</p>"
    message = row(message_id)
    assert (message.status, message.attempts, message.claim_token) == (MAIL_SENT, 1, None)
    assert message.sent_at is not None
    assert audit_actions() == ["mail.sent"]
    # Once sent, never again.
    assert runner.invoke(args=["mail", "deliver"]).exit_code == 0
    assert len(smtp_server.messages) == 1


def test_only_due_messages_are_sent_oldest_first(app, smtp_server):
    first, second = queue("one@example.org"), queue("two@example.org")
    later = queue("later@example.org")
    db.session.get(OutboxMessage, later).next_attempt_at = utcnow() + timedelta(hours=1)
    db.session.commit()
    assert mail.deliver_due().sent == 2
    assert [m["To"] for m in smtp_server.messages] == ["one@example.org", "two@example.org"]
    assert (row(first).status, row(second).status, row(later).status) == (MAIL_SENT, MAIL_SENT, MAIL_QUEUED)


# -- never twice ----------------------------------------------------------------------------------


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the worker catches it."""


def test_a_worker_killed_between_send_and_mark_never_sends_twice(
    app, client, login, make_user, smtp_server, monkeypatch
):
    message_id = queue()

    def killed(*args, **kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(mail, "_mark_sent", killed)
        with pytest.raises(WorkerKilled):
            mail.deliver_due()
    assert len(smtp_server.messages) == 1  # the server has it ...
    assert row(message_id).status == MAIL_SENDING  # ... and the claim, committed before SMTP, says so

    # The worker starts again straight away: the message is not taken again.
    assert mail.deliver_due().sent == 0
    assert row(message_id).status == MAIL_SENDING
    # Once the claim is older than any live send could take, it is flagged for the admin, still not resent.
    later = utcnow() + timedelta(seconds=app.config["MAIL_CLAIM_TIMEOUT_SECONDS"] + 1)
    report = mail.deliver_due(now=later)
    assert (report.sent, report.unknown) == (0, 1)
    assert len(smtp_server.messages) == 1
    message = row(message_id)
    assert message.status == MAIL_UNKNOWN
    assert "may or may not" in message.last_error
    assert "mail.unknown" in audit_actions()
    assert mail.deliver_due(now=later + timedelta(hours=5)).sent == 0
    assert len(smtp_server.messages) == 1

    # The admin sees it, with a warning, and may send it again deliberately.
    login(client, make_user("admin@council.example", ("admin",)))
    listing = client.get("/admin/outbox").text
    assert "Not known whether sent" in listing
    page = client.get(f"/admin/outbox/{message_id}").text
    assert "may already have this email" in page
    assert client.post(f"/admin/outbox/{message_id}/send-again").status_code == 302
    assert row(message_id).status == MAIL_QUEUED
    assert mail.deliver_due().sent == 1
    assert len(smtp_server.messages) == 2
    assert smtp_server.messages[0]["Message-ID"] == smtp_server.messages[1]["Message-ID"]
    assert "mail.sent_again" in audit_actions()


def test_a_message_claimed_by_one_worker_is_not_claimed_by_another(app):
    first, second = queue("one@example.org"), queue("two@example.org")
    claim = mail.claim_next(utcnow())
    assert claim is not None and claim.message_id == first
    other = mail.claim_next(utcnow())
    assert other is not None and other.message_id == second
    assert mail.claim_next(utcnow()) is None


@pytest.mark.skipif(os.environ.get("PORTAL_TEST_BACKEND") != "postgresql", reason="row locks: PostgreSQL only")
def test_two_workers_at_once_skip_each_others_locked_rows(app):
    """While one worker's transaction holds a row (FOR UPDATE), another skips it instead of waiting or taking it."""
    first, second = queue("one@example.org"), queue("two@example.org")
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as other_worker, other_worker.begin():
            other_worker.execute(
                sa.text("SELECT id FROM outbox_message WHERE id = :id FOR UPDATE SKIP LOCKED"), {"id": first}
            )
            claim = mail.claim_next(utcnow())
            assert claim is not None and claim.message_id == second
            assert mail.claim_next(utcnow()) is None  # the only other due row is locked: skipped
    finally:
        engine.dispose()
    assert row(first).status == MAIL_QUEUED


def test_a_connection_lost_after_handing_over_is_flagged_not_retried(app, smtp_server):
    smtp_server.catcher.hang_up = True
    message_id = queue()
    report = mail.deliver_due()
    assert (report.sent, report.retrying, report.unknown) == (0, 0, 1)
    message = row(message_id)
    assert message.status == MAIL_UNKNOWN
    smtp_server.catcher.hang_up = False
    assert mail.deliver_due(now=utcnow() + timedelta(days=1)).sent == 0
    assert len(smtp_server.messages) == 1


# -- refused, retried, nothing lost -------------------------------------------------------------


@pytest.mark.parametrize("reply", ["451 4.3.0 Try again later", "550 5.7.1 Not now"])
def test_a_refusing_server_is_retried_with_back_off_until_it_accepts(app, smtp_server, reply):
    smtp_server.catcher.refuse = reply
    message_id = queue()
    start = utcnow()
    assert mail.deliver_due(now=start).retrying == 1
    message = row(message_id)
    assert (message.status, message.attempts) == (MAIL_QUEUED, 1)
    assert reply.split()[0] in message.last_error
    assert message.next_attempt_at == start + timedelta(seconds=60)
    # Not due yet: not tried.
    assert mail.deliver_due(now=start + timedelta(seconds=59)).retrying == 0
    assert row(message_id).attempts == 1
    # Second refusal: the wait doubles.
    second = start + timedelta(seconds=61)
    assert mail.deliver_due(now=second).retrying == 1
    assert row(message_id).next_attempt_at == second + timedelta(seconds=120)
    # The server accepts: sent once, nothing lost.
    smtp_server.catcher.refuse = None
    assert mail.deliver_due(now=second + timedelta(seconds=121)).sent == 1
    assert len(smtp_server.messages) == 1
    assert (row(message_id).status, row(message_id).attempts) == (MAIL_SENT, 3)


def test_with_nothing_listening_the_message_waits_then_goes(app, smtp_server):
    smtp_server.stop()
    message_id = queue()
    start = utcnow()
    assert mail.deliver_due(now=start).retrying == 1
    assert "Connection" in row(message_id).last_error or "refused" in row(message_id).last_error
    smtp_server.start()
    assert mail.deliver_due(now=start + timedelta(minutes=2)).sent == 1
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize("app_config", [{**mail_config(free_port()), "MAIL_MAX_ATTEMPTS": 3}])
def test_after_the_last_attempt_the_message_is_failed_and_shown_to_the_admin(app, client, login, make_user):
    message_id = queue()
    moment = utcnow()
    for _ in range(3):
        mail.deliver_due(now=moment)
        moment += timedelta(hours=2)
    message = row(message_id)
    assert (message.status, message.attempts) == (MAIL_FAILED, 3)
    assert audit_actions() == ["mail.failed"]
    assert mail.deliver_due(now=moment + timedelta(days=1)).failed == 0  # given up: not tried again
    login(client, make_user("admin@council.example", ("admin",)))
    assert "Not sent" in client.get("/admin/outbox").text
    page = client.get(f"/admin/outbox/{message_id}").text
    assert "Send again" in page
    assert "Plain words" in page


def test_the_back_off_is_capped(app):
    assert mail.retry_delay(1) == timedelta(minutes=1)
    assert mail.retry_delay(4) == timedelta(minutes=8)
    assert mail.retry_delay(30) == timedelta(seconds=app.config["MAIL_RETRY_CAP_SECONDS"])


def test_a_sent_or_waiting_message_cannot_be_sent_again(app, client, login, make_user):
    message_id = queue()
    login(client, make_user("admin@council.example", ("admin",)))
    response = client.post(f"/admin/outbox/{message_id}/send-again")
    assert response.status_code == 409
    assert "There is a problem" in response.text
    assert row(message_id).attempts == 0


# -- no mail server: the outbox is the post room --------------------------------------------------


@pytest.mark.parametrize("app_config", [{}])
def test_without_a_mail_server_the_worker_says_so_and_the_admin_reads_the_outbox(app, runner, client, login, make_user):
    message_id = queue(text="Follow https://portal.example/invitations/abc to start")
    result = runner.invoke(args=["mail", "deliver"])
    assert result.exit_code == 0
    assert "MAIL_SERVER is not set" in result.output
    assert row(message_id).status == MAIL_QUEUED
    login(client, make_user("admin@council.example", ("admin",)))
    listing = client.get("/admin/outbox").text
    assert "No mail server is set up" in listing
    assert "Waiting to send" in listing
    page = client.get(f"/admin/outbox/{message_id}").text
    assert '<a href="https://portal.example/invitations/abc"' in page  # the link can be followed from here


# -- the command's watch mode, as `make run` starts it ------------------------------------------


def worker_env(database_url: str, tmp_path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAIL_")}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="w" * 48,
        PORTAL_INSTANCE_PATH=str(tmp_path / "instance"),
        PUBLIC_URL="https://portal.example",
        **extra,
    )
    return env


def run_worker(env: dict) -> subprocess.Popen:
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    return subprocess.Popen(
        [flask, "--app", "wsgi", "mail", "deliver", "--watch"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )


def test_watch_delivers_and_stops_cleanly_on_sigterm(app, database_url, smtp_server, tmp_path):
    message_id = queue()
    env = worker_env(
        database_url, tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_server.port), MAIL_SECURITY="none"
    )
    worker = run_worker(env)
    try:
        deadline = time.monotonic() + 20
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(smtp_server.messages) == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output
    assert "Mail: stopped" in output
    assert row(message_id).status == MAIL_SENT


def test_watch_without_a_mail_server_idles_until_stopped(app, database_url, tmp_path):
    worker = run_worker(worker_env(database_url, tmp_path))
    assert worker.stdout is not None
    while "MAIL_SERVER is not set" not in (line := worker.stdout.readline()):
        assert line, "the worker ended without saying why"
    time.sleep(0.5)
    assert worker.poll() is None  # still there beside the web server
    worker.send_signal(signal.SIGINT)
    output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output
    assert "MAIL_SERVER is not set" not in output  # said once, before the wait


# -- configuration ----------------------------------------------------------------------------------


def test_mail_settings_come_from_the_environment():
    settings = mail_settings(
        {
            "MAIL_SERVER": "smtp.example.org",
            "MAIL_PORT": "2525",
            "MAIL_SECURITY": "TLS",
            "MAIL_USERNAME": "portal",
            "MAIL_PASSWORD": "secret",
            "MAIL_FROM": "Portal <portal@example.org>",
            "PUBLIC_URL": "https://grants.example.org/",
        }
    )
    assert settings == {
        "MAIL_SERVER": "smtp.example.org",
        "MAIL_PORT": 2525,
        "MAIL_SECURITY": "tls",
        "MAIL_USERNAME": "portal",
        "MAIL_PASSWORD": "secret",
        "MAIL_FROM": "Portal <portal@example.org>",
        "PUBLIC_URL": "https://grants.example.org",
    }
    assert mail_settings({}) == {}


@pytest.mark.parametrize(
    "environ",
    [{"MAIL_SECURITY": "ssl"}, {"MAIL_PORT": "smtp"}, {"MAIL_PORT": "70000"}, {"PUBLIC_URL": "grants.example.org"}],
)
def test_a_mail_setting_that_cannot_work_stops_the_start(environ):
    with pytest.raises(RuntimeError):
        mail_settings(environ)


@pytest.mark.parametrize(("security", "port"), list(DEFAULT_PORTS.items()))
def test_the_port_follows_the_security_unless_given(security, port):
    settings = SmtpSettings.from_config(
        {"MAIL_SERVER": "smtp.example.org", "MAIL_SECURITY": security, "MAIL_FROM": "x"}
    )
    assert settings is not None and settings.port == port
    assert SmtpSettings.from_config({"MAIL_SERVER": "s", "MAIL_PORT": 2525, "MAIL_FROM": "x"}).port == 2525
    assert SmtpSettings.from_config({"MAIL_SERVER": None}) is None


def test_links_in_mail_use_the_public_url(app):
    with app.test_request_context("/", base_url="http://evil.example"):
        link = mail.public_url("main.accessibility", part="mail")
    assert link == "https://portal.example/accessibility?part=mail"
