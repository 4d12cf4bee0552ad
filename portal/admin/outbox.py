"""The outbox: every e-mail the portal has written, its status, and its text (with no mail server, the
only place a link can be read); a failed or uncertain message can be sent again, deliberately."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from ..auth.loaders import load_outbox_message
from ..extensions import db
from ..services import mail as service

LISTED = 200


def outbox_list():
    messages, counts = service.outbox(limit=LISTED)
    return render_template(
        "admin/outbox.html",
        messages=messages,
        counts=counts,
        limit=LISTED,
        mail_configured=bool(current_app.config.get("MAIL_SERVER")),
    )


def outbox_message(message_id: int):
    return render_template("admin/outbox_message.html", message=load_outbox_message(message_id))


def outbox_send_again(message_id: int):
    message = load_outbox_message(message_id)
    try:
        service.send_again(message, by=current_user)
    except service.MailError as error:
        db.session.rollback()
        return render_template("admin/outbox_message.html", message=message, error=str(error)), 409
    db.session.commit()
    flash("The message will be sent again.")
    return redirect(url_for("admin.outbox_message", message_id=message_id))
