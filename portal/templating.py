"""Template filters and the context every page shares."""

from __future__ import annotations

from datetime import date, datetime
from typing import NotRequired, TypedDict

from flask import Flask, current_app, g, request, url_for
from flask_login import current_user
from govuk_frontend_wtf.gov_form_base import GovFormBase
from markupsafe import Markup
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
    # Asked once a request, and answered from the request's list of years when a page has read it already
    # (auth/loaders.request_years): the banner then costs no query of its own.
    if "demo_data_present" not in g and "years" in g:
        g.demo_data_present = any(year.illustrative for year in g.years)
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


def render_widget(widget: GovFormBase, params: dict) -> Markup:
    """A GOV.UK form widget's HTML from its own template alone. govuk-frontend-wtf renders each with
    `flask.render_template`, which runs the request's context processors (who is signed in, the navigation, the
    demo-data banner) once a field, for a template that reads only `params` (its macro is imported without
    context): the same HTML, without that work."""
    # The template is autoescaped (.html), as render_template's output that the library marks safe the same way.
    return Markup(current_app.jinja_env.get_template(widget.template).render(params=params))  # noqa: S704


def register(app: Flask) -> None:
    # Every Gov* widget, those the library's own fields make (GovDateField's) included: one assignment here rather
    # than a subclass of each widget that every form would have to remember to import.
    GovFormBase.render = render_widget
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
