"""Command line: `flask --app wsgi year import`, `demo load`, `user create / set-password / deactivate /
reactivate`, `mail deliver`, `notifications summarise`, `reminders send`, `retention apply` and
`backup create / restore` and `summaries rebuild`."""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .extensions import db
from .models import Organisation, Project, User
from .models.user import ROLES
from .services import demo, reminders
from .services.backup import BackupError, create_backup, restore_backup
from .services.mail import deliver_due
from .services.notifications import summarise
from .services.passwords import PasswordPolicyError
from .services.retention import apply_retention, retention_plan
from .services.summary import rebuild_summaries
from .services.users import UserError, create_user, deactivate, reactivate, set_password
from .services.year_import import YearImportError, import_year

year_cli = AppGroup("year", help="Financial years.")
demo_cli = AppGroup("demo", help="Demo data.")
user_cli = AppGroup("user", help="People who sign in.")
mail_cli = AppGroup("mail", help="Mail in the outbox.")
reminders_cli = AppGroup("reminders", help="Reminders to partners and the CSU's weekly digest.")
notifications_cli = AppGroup("notifications", help="Notices of what happened, and daily summaries of them.")
retention_cli = AppGroup("retention", help="Removing old narrative text.")
backup_cli = AppGroup("backup", help="Checked backups of the database, and restoring one into an empty database.")
summaries_cli = AppGroup("summaries", help="The CSU overview's figures kept per project.")
log = logging.getLogger(__name__)


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        _fail("Error: no password on standard input")
    return password


@year_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def year_import(file: Path) -> None:
    """Load or update one financial year from a YAML FILE (nothing is written if anything is wrong)."""
    try:
        summary = import_year(file.read_text(encoding="utf-8"))
    except YearImportError as error:
        db.session.rollback()
        click.echo(f"{file}: not imported, {len(error.errors)} problem(s):", err=True)
        for line in error.errors:
            click.echo(f"  - {line}", err=True)
        sys.exit(1)
    except UnicodeDecodeError:
        _fail(f"{file}: not imported: the file must be UTF-8 text")
    db.session.commit()
    if not summary.changed:
        click.echo(f"{summary.year_label}: already up to date, nothing changed")
        return
    parts = [f"{n} {kind.replace('_', ' ')} created" for kind, n in sorted(summary.created.items())]
    parts += [f"{n} {kind.replace('_', ' ')} updated" for kind, n in sorted(summary.updated.items())]
    click.echo(f"{summary.year_label}: imported ({', '.join(parts)})")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Only load when the database holds no projects.")
def demo_load(if_empty: bool) -> None:
    """Load the demo years and accounts (password from DEMO_PASSWORD, else a random one printed once)."""
    if if_empty and db.session.scalar(select(Project.id).limit(1)) is not None:
        click.echo("Demo: the database already holds data; nothing loaded.")
        demo.print_accounts(click.echo, password=None)
        return
    password = current_app.config.get("DEMO_PASSWORD") or ""
    generated = not password
    if generated:
        password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    try:
        result = demo.load(password)
    except (YearImportError, UserError, PasswordPolicyError) as error:
        db.session.rollback()
        details = getattr(error, "errors", [str(error)])
        _fail("Demo not loaded:\n" + "\n".join(f"  - {line}" for line in details))
    db.session.commit()
    click.echo(f"Demo loaded: years {', '.join(result.years)}.")
    # The password only applies to accounts created now; a new random one for no account would mislead.
    demo.print_accounts(click.echo, password=password if result.created_users else None, generated=generated)


@user_cli.command("create")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@click.option("--org", "org_short_name", help="The partner's organisation (short name).")
@click.option("--name", default="", help="The person's name.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def user_create(
    email: str, roles: tuple[str, ...], org_short_name: str | None, name: str, password_stdin: bool
) -> None:
    """Create a user who signs in with EMAIL."""
    organisation = None
    if org_short_name:
        organisation = db.session.scalar(select(Organisation).where(Organisation.short_name == org_short_name))
        if organisation is None:
            _fail(f"Error: no organisation with the short name {org_short_name}")
    password = _read_password()
    try:
        user = create_user(email, roles=list(roles), password=password, organisation=organisation, name=name)
    except (UserError, PasswordPolicyError) as error:
        db.session.rollback()
        _fail(f"Error: {error}")
    db.session.commit()
    click.echo(f"Created {user.email} ({', '.join(sorted(user.roles))})")


@user_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def user_set_password(email: str, password_stdin: bool) -> None:
    """Set a new password for EMAIL; every session that user had ends."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail(f"Error: no user with the e-mail {email}")
    try:
        set_password(user, _read_password())
    except PasswordPolicyError as error:
        db.session.rollback()
        _fail(f"Error: {error}")
    db.session.commit()
    click.echo(f"Password set for {user.email}; their sessions have ended")


@user_cli.command("deactivate")
@click.argument("email")
def user_deactivate(email: str) -> None:
    """Stop EMAIL signing in; every session that user had ends. Their records stay."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail(f"Error: no user with the e-mail {email}")
    try:
        deactivate(user)
    except UserError as error:
        db.session.rollback()
        _fail(f"Error: {user.email}: {error}")
    db.session.commit()
    click.echo(f"Deactivated {user.email}; their sessions have ended")


@user_cli.command("reactivate")
@click.argument("email")
def user_reactivate(email: str) -> None:
    """Let a deactivated EMAIL sign in again, with the password they had."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail(f"Error: no user with the e-mail {email}")
    try:
        reactivate(user)
    except UserError as error:
        db.session.rollback()
        _fail(f"Error: {user.email}: {error}")
    db.session.commit()
    click.echo(f"Reactivated {user.email}")


NO_MAIL_SERVER = (
    "Mail: MAIL_SERVER is not set, so no mail is sent. Messages wait in the outbox, where an administrator "
    "reads them and their links at /admin/outbox."
)


@mail_cli.command("deliver")
@click.option("--watch", is_flag=True, help="Keep delivering every few seconds until stopped (SIGTERM or Ctrl+C).")
def mail_deliver(watch: bool) -> None:
    """Send the mail that is due over SMTP, once or (--watch) until stopped. Never sends a message twice."""
    if not watch:
        click.echo(f"Mail: {deliver_due().summary}" if current_app.config.get("MAIL_SERVER") else NO_MAIL_SERVER)
        return
    with _stop_on_signals() as stop:
        if not current_app.config.get("MAIL_SERVER"):
            click.echo(NO_MAIL_SERVER)
            stop.wait()  # idle beside the web server until it stops
            return
        interval = current_app.config["MAIL_WATCH_INTERVAL_SECONDS"]
        click.echo(
            f"Mail: delivering to {current_app.config['MAIL_SERVER']} every {interval} s; links start with "
            f"{current_app.config['PUBLIC_URL']}. Stop with Ctrl+C or SIGTERM."
        )
        while not stop.is_set():
            _deliver_logged()
            stop.wait(interval)  # a signal ends the wait at once; a message being sent is finished first
    click.echo("Mail: stopped")


def _deliver_logged() -> None:
    try:
        report = deliver_due()
    except Exception:  # the database is away, say: keep the worker alive and try again after the pause
        db.session.rollback()
        log.exception("mail delivery stopped part-way; trying again shortly")
        return
    if report.sent or report.retrying or report.failed or report.unknown:
        click.echo(f"Mail: {report.summary}")


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM and SIGINT set an event instead of killing the worker mid-send; the old handlers come back after."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@reminders_cli.command("send")
def reminders_send() -> None:
    """Queue today's reminders and, once a week, the CSU's digest; run daily (more often does no harm)."""
    report = reminders.send_reminders()
    click.echo(f"Reminders: {report.summary}.")
    for occasion in report.unreachable:
        project = occasion.project
        click.echo(f"  nobody to remind: {project.organisation.short_name}, {project.name}, Q{occasion.quarter}")
    click.echo(f"CSU digest: {reminders.send_digest()} queued.")


@notifications_cli.command("summarise")
def notifications_summarise() -> None:
    """Queue today's daily summary for each person who chose one (meant for a daily timer; safe to run again)."""
    report = summarise()
    click.echo(report.text)


@retention_cli.command("apply")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
def retention_apply(dry_run: bool) -> None:
    """Remove the narrative text of returns (and their revisions) older than RETENTION_YEARS financial years;
    figures, ratings and the audit trail are kept."""
    plan = retention_plan() if dry_run else apply_retention()
    # Every apply is audited, one that found nothing too; a dry run writes nothing.
    db.session.rollback() if dry_run else db.session.commit()
    if not plan.removes_anything:
        click.echo(f"No narrative text before {plan.keep_from_label} to remove")
        return
    verb = "Would remove" if dry_run else "Removed"
    click.echo(
        f"{verb} the narrative text of {plan.returns} returns and {plan.revisions} revisions "
        f"of years before {plan.keep_from_label}:"
    )
    for kind, count in sorted(plan.texts.items()):
        click.echo(f"  - {kind.replace('_', ' ')}: {count}")


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_create(path: Path) -> None:
    """Back up the database to PATH (SQLite: a copy; PostgreSQL: a pg_dump archive), with PATH.manifest.json."""
    try:
        report = create_backup(db.engine, path)
    except BackupError as error:
        _fail(f"Backup not made: {error}")
    click.echo(f"Backup written to {report.path} and checked: {len(report.counts)} tables, {report.rows} rows.")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_restore(path: Path) -> None:
    """Restore the backup at PATH into the database, which must be empty; then check it against the backup."""
    try:
        report = restore_backup(db.engine, path)
    except BackupError as error:
        _fail(f"Not restored: {error}")
    click.echo(f"Restored {report.path} and checked: {len(report.counts)} tables, {report.rows} rows.")


@summaries_cli.command("rebuild")
def summaries_rebuild() -> None:
    """Compute every project's overview figures afresh (after a restore, or to repair a row changed by hand)."""
    written = rebuild_summaries()
    db.session.commit()
    click.echo(f"Summaries: {written} project(s) computed afresh.")


def register(app: Flask) -> None:
    app.config.setdefault("DEMO_PASSWORD", None)
    groups = (
        year_cli,
        demo_cli,
        user_cli,
        mail_cli,
        notifications_cli,
        reminders_cli,
        retention_cli,
        backup_cli,
        summaries_cli,
    )
    for group in groups:
        app.cli.add_command(group)
