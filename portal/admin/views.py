"""The administrator's pages: organisations and the people who use the portal."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Organisation, User
from ..models.user import ROLE_LABELS


def home():
    organisations = list(db.session.scalars(select(Organisation).order_by(Organisation.name)))
    user_counts = dict(
        db.session.execute(
            select(User.organisation_id, func.count())
            .where(User.organisation_id.is_not(None))
            .group_by(User.organisation_id)
        ).all()
    )
    users = list(db.session.scalars(select(User).options(joinedload(User.organisation)).order_by(User.email)))
    return render_template(
        "admin/home.html", organisations=organisations, user_counts=user_counts, users=users, role_labels=ROLE_LABELS
    )
