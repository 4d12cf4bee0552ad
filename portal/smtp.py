"""One message over SMTP with the standard library, and an honest answer about what happened to it.

`NotSent`: the server could not be reached or refused the message with a reply code, so trying again cannot
make a duplicate. `MaybeSent`: the connection broke after the message was handed over and before the server
said whether it took it; the caller must not try again by itself.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import formatdate, parseaddr
from io import BytesIO
from typing import Any

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class NotSent(Exception):
    """The message is certainly not with the server: safe to try again."""


class MaybeSent(Exception):
    """The server may or may not have the message: sending it again could deliver it twice."""


@dataclass(frozen=True)
class SmtpSettings:
    server: str
    port: int
    security: str
    username: str | None
    password: str | None
    timeout: float
    sender: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings | None:
        """The settings, or None when no MAIL_SERVER is configured (mail then waits in the outbox)."""
        if not config.get("MAIL_SERVER"):
            return None
        security = config.get("MAIL_SECURITY") or "starttls"
        return cls(
            server=config["MAIL_SERVER"],
            port=config.get("MAIL_PORT") or DEFAULT_PORTS[security],
            security=security,
            username=config.get("MAIL_USERNAME") or None,
            password=config.get("MAIL_PASSWORD") or None,
            timeout=float(config.get("MAIL_TIMEOUT_SECONDS") or 30),
            sender=config["MAIL_FROM"],
        )


def envelope_address(address: str) -> str:
    """The bare address of a From value like `Name <x@example.org>`."""
    return parseaddr(address)[1] or address


def build_message(*, sender: str, to: str, subject: str, text: str, html: str, message_id: str) -> EmailMessage:
    """Plain text first, HTML as the alternative; the Message-ID stays the same on every attempt."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.security == "tls":
        client = smtplib.SMTP_SSL(settings.server, settings.port, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password or "")
    except BaseException:
        client.close()
        raise
    return client


def _flatten(message: EmailMessage, international: bool) -> bytes:
    buffer = BytesIO()
    BytesGenerator(buffer, policy=SMTPUTF8 if international else SMTP).flatten(message)
    return buffer.getvalue()


def _hand_over(client: smtplib.SMTP, sender: str, to: str, message: EmailMessage) -> None:
    international = not (sender + to).isascii()
    options = ["SMTPUTF8"] if international else []
    try:
        client.ehlo_or_helo_if_needed()
        code, reply = client.mail(sender, options)
        if code != 250:
            raise NotSent(f"{code} {reply.decode(errors='replace')} (sender refused)")
        code, reply = client.rcpt(to)
        if code not in (250, 251):
            raise NotSent(f"{code} {reply.decode(errors='replace')} (recipient refused)")
    except (OSError, smtplib.SMTPException) as error:
        raise NotSent(describe(error)) from error
    try:
        code, reply = client.data(_flatten(message, international))
    except smtplib.SMTPResponseException as error:  # refused before or after the body, with a reply code
        raise NotSent(describe(error)) from error
    except (OSError, smtplib.SMTPException) as error:
        raise MaybeSent(describe(error)) from error
    if code != 250:
        raise NotSent(f"{code} {reply.decode(errors='replace')}")


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Deliver one message to the configured server, or raise NotSent or MaybeSent."""
    try:
        client = _connect(settings)
    except (OSError, smtplib.SMTPException) as error:
        raise NotSent(describe(error)) from error
    try:
        _hand_over(client, envelope_address(settings.sender), message["To"], message)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def describe(error: BaseException) -> str:
    """A short, one-line account of an SMTP or network error for the admin's outbox page."""
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        text = f"{error.smtp_code} {reply}"
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        text = "; ".join(f"{code} {reply.decode(errors='replace')}" for code, reply in error.recipients.values())
    else:
        text = f"{error.__class__.__name__}: {error}"
    return " ".join(text.split())[:500]
