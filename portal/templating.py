"""Template filters and the context every page shares."""

from __future__ import annotations

from datetime import date, datetime
from typing import NotRequired, TypedDict

from flask import Flask, g, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .calendar import day_text, to_uk
from .extensions import db
from .models import FinancialYear, User, vocabulary
from .models.user import ADMIN, AUDIT_READERS, CSU, FINANCE, PARTNER
from .money import format_pence
from .quantities import format_quantity

NAVIGATION = (
    ((PARTNER,), "partner.home", "Your projects"),
    ((CSU,), "csu.home", "Projects overview"),
    ((CSU,), "csu.review_queue", "Returns to review"),
    ((FINANCE,), "finance.home", "Funding"),
    ((CSU, ADMIN, FINANCE), "setup.home", "Set-up"),
    ((ADMIN,), "admin.home", "Administration"),
    (AUDIT_READERS, "audit.trail", "Audit trail"),
)


class NavigationItem(TypedDict):
    """One link of the service navigation, as govukServiceNavigation takes it."""

    href: str
    text: str
    active: NotRequired[bool]


def uk_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_uk(value).date()
    return day_text(value)


def uk_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = to_uk(value)
    return f"{local.day} {local:%B %Y} at {local:%H:%M}"


def _viewer() -> User | None:
    """The signed-in user, or None; an error page must render even when the database is down."""
    try:
        user = current_user._get_current_object()
    except SQLAlchemyError:
        db.session.rollback()
        return None
    return user if user is not None and user.is_authenticated else None


def _demo_data_present() -> bool:
    # Asked once a request: every GOV.UK form widget renders a template of its own, with this context.
    if "demo_data_present" not in g:
        try:
            g.demo_data_present = (
                db.session.scalar(select(FinancialYear.id).where(FinancialYear.illustrative.is_(True)).limit(1))
                is not None
            )
        except SQLAlchemyError:
            db.session.rollback()
            return False
    return g.demo_data_present


def register(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_pence
    app.jinja_env.filters["quantity"] = format_quantity
    app.jinja_env.filters["uk_date"] = uk_date
    app.jinja_env.filters["uk_datetime"] = uk_datetime
    # Templates take every word, tag and threshold they show from the one vocabulary.
    app.jinja_env.globals["vocabulary"] = vocabulary
    app.jinja_env.globals["STATUS_TAG_CLASSES"] = vocabulary.STATUS_TAG_CLASSES

    @app.context_processor
    def _shared() -> dict[str, object]:
        viewer = _viewer()
        navigation: list[NavigationItem] = []
        if viewer is not None:
            for roles, endpoint, text in NAVIGATION:
                if viewer.has_role(*roles):
                    navigation.append({"href": url_for(endpoint), "text": text})
            # The item whose address is the longest prefix of this page is the current one.
            matches = [item for item in navigation if request.path.startswith(item["href"])]
            if matches:
                max(matches, key=lambda item: len(item["href"]))["active"] = True
        return {"viewer": viewer, "navigation": navigation, "demo_data": _demo_data_present()}
