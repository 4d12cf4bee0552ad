"""Pages for everyone: the start, health, accessibility statement and privacy notice."""

from __future__ import annotations

import logging

from flask import jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..auth.views import home_url
from ..extensions import db

log = logging.getLogger(__name__)


def index():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("auth.sign_in"))


def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("health check: database did not answer (%s)", error.__class__.__name__)
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok")


def accessibility():
    return render_template("main/accessibility.html")


def privacy():
    return render_template("main/privacy.html")


@login_required
def no_role():
    if current_user.roles:
        return redirect(home_url(current_user))
    return render_template("main/no_role.html"), 403
