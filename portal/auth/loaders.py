"""One loader per object kind, flaskr's `get_post(id, check_author=True)` being the model.

Each loads the object a URL names for the signed-in person and stops the request when they may not
have it: 404 when it does not exist or belongs to another organisation (a partner is never told that
it exists), 403 when a member of staff lacks the role for what the view is about to do. The question
asked is always one of the model's own predicates (`Project.can_view`, `Project.can_rate` …), so a
template showing a button and the view accepting its form ask the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from flask import abort, g, make_response, render_template, request
from flask_login import current_user
from sqlalchemy.orm import joinedload, lazyload, selectinload

from ..calendar import parse_year_label
from ..extensions import db
from ..models import (
    FinancialYear,
    FundingStream,
    Invitation,
    MonitoringReturn,
    Organisation,
    OutboxMessage,
    OutputMeasure,
    PasswordReset,
    Payment,
    PaymentInstalment,
    Priority,
    Project,
    ReturnRevision,
    User,
)
from ..models.payment import PAYMENT
from ..models.vocabulary import LINK_UNKNOWN, LINK_VALID
from ..security_log import security_event
from ..services import invitations, password_reset
from ..services.exports import EXPORT_FORMATS
from ..services.years import all_years, default_year

T = TypeVar("T")
Check = Callable[[T, User], bool]


def _viewer() -> User:
    return current_user._get_current_object()  # the real User, for the models' predicates


def _refuse(user: User) -> NoReturn:
    abort(403 if user.can_see_all_organisations else 404)


def _checked(obj: T, project: Project, check: Check[T] | None) -> T:
    user = _viewer()
    if not project.can_view(user):
        security_event("access.denied", reason="other_organisation", status=404, endpoint=request.endpoint)
        abort(404)
    if check is not None and not check(obj, user):
        status = 403 if user.can_see_all_organisations else 404
        reason = getattr(check, "__name__", "check")
        security_event("access.denied", reason=reason, status=status, endpoint=request.endpoint)
        _refuse(user)
    return obj


def request_years() -> list[FinancialYear]:
    """Every year, newest first, read once a request: the URL's year, the year switcher and the demo-data banner
    (portal/templating.py) all come from this one query."""
    if "years" not in g:
        g.years = all_years()
    return g.years


def load_year(label: str) -> FinancialYear:
    """The financial year a URL names, like 2021-22; 404 for a malformed label or a year not set up."""
    start = parse_year_label(label)
    year = next((year for year in request_years() if year.start_year == start), None)
    if year is None:
        abort(404)
    return year


def load_download_year(label: str, fmt: str) -> FinancialYear:
    """The year a table download is for; 404 too for a format not in EXPORT_FORMATS."""
    if fmt not in EXPORT_FORMATS:
        abort(404)
    return load_year(label)


def pick_year(label: str | None) -> tuple[list[FinancialYear], FinancialYear | None]:
    """Every year (for the year switcher) and the one a page shows: the URL's, else the current one."""
    years = request_years()
    return list(years), load_year(label) if label else default_year(years)


def load_project(project_id: int, *, check: Check[Project] | None = None) -> Project:
    """The project, if the person may see it (and, with `check`, do what the view does to it)."""
    # What every project page shows of it, in the same query: its pages and figures never read it again.
    project = db.session.get(
        Project,
        project_id,
        options=[
            joinedload(Project.organisation),
            joinedload(Project.year),
            joinedload(Project.funding_stream),
            joinedload(Project.priority),
        ],
    )
    if project is None:
        abort(404)
    return _checked(project, project, check)


def load_return(return_id: int, *, check: Check[MonitoringReturn] | None = None) -> MonitoringReturn:
    """A monitoring return with its project, values and revisions, for reviewing it."""
    mreturn = db.session.get(
        MonitoringReturn,
        return_id,
        options=[
            joinedload(MonitoringReturn.project).joinedload(Project.organisation),
            joinedload(MonitoringReturn.project).joinedload(Project.year),
            selectinload(MonitoringReturn.values),
            # Who submitted it, and each revision: their names, never their roles.
            joinedload(MonitoringReturn.submitted_by).options(lazyload(User.role_rows)),
            selectinload(MonitoringReturn.revisions)
            .joinedload(ReturnRevision.submitted_by)
            .options(lazyload(User.role_rows)),
        ],
    )
    if mreturn is None:
        abort(404)
    return _checked(mreturn, mreturn.project, check)


def load_payment(payment_id: int, *, check: Check[Payment] | None = None) -> Payment:
    """A payment (not a reversal: only payments are acted on) with its project and year."""
    payment = db.session.get(Payment, payment_id, options=[joinedload(Payment.project).joinedload(Project.year)])
    if payment is None or payment.kind != PAYMENT:
        abort(404)
    return _checked(payment, payment.project, check)


def load_instalment(instalment_id: int, *, check: Check[PaymentInstalment] | None = None) -> PaymentInstalment:
    instalment = db.session.get(PaymentInstalment, instalment_id)
    if instalment is None:
        abort(404)
    return _checked(instalment, instalment.project, check)


def _staff_checked(obj: T, check: Check[T] | None) -> T:
    """A year's set-up belongs to no organisation: a partner is never told it exists."""
    user = _viewer()
    if not user.can_see_all_organisations:
        abort(404)
    if check is not None and not check(obj, user):
        _refuse(user)
    return obj


def load_stream(stream_id: int, *, check: Check[FundingStream] | None = None) -> FundingStream:
    stream = db.session.get(FundingStream, stream_id, options=[joinedload(FundingStream.year)])
    if stream is None:
        abort(404)
    return _staff_checked(stream, check)


def load_priority(priority_id: int, *, check: Check[Priority] | None = None) -> Priority:
    priority = db.session.get(Priority, priority_id, options=[joinedload(Priority.year)])
    if priority is None:
        abort(404)
    return _staff_checked(priority, check)


def load_measure(measure_id: int, *, check: Check[OutputMeasure] | None = None) -> OutputMeasure:
    """An output measure with its project and year."""
    measure = db.session.get(
        OutputMeasure, measure_id, options=[joinedload(OutputMeasure.project).joinedload(Project.year)]
    )
    if measure is None:
        abort(404)
    return _checked(measure, measure.project, check)


def load_organisation(organisation_id: int, *, check: Check[Organisation] | None = None) -> Organisation:
    """An organisation, for the administrator's pages (`check`: may this person change it)."""
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None:
        abort(404)
    if check is not None and not check(organisation, _viewer()):
        _refuse(_viewer())
    return organisation


def load_user(user_id: int, *, check: Check[User] | None = None) -> User:
    """Someone's account, for the administrator's pages (`check`: may the signed-in person do this to it)."""
    user = db.session.get(User, user_id, options=[joinedload(User.organisation)])
    if user is None:
        abort(404)
    if check is not None and not check(user, _viewer()):
        _refuse(_viewer())
    return user


# -- invitations, reset links and the outbox (mail) ---------------------------------------------


def load_invitation(invitation_id: int) -> Invitation:
    """An invitation, for an administrator (the admin blueprint's guard has already refused everyone else)."""
    invitation = db.session.get(Invitation, invitation_id, options=[joinedload(Invitation.organisation)])
    if invitation is None:
        abort(404)
    if not Invitation.can_manage(_viewer()):
        _refuse(_viewer())
    return invitation


def load_outbox_message(message_id: int) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    if not OutboxMessage.can_read(_viewer()):
        _refuse(_viewer())
    return message


def refuse_link(kind: str, state: str) -> NoReturn:
    """A clear page for a dead link: 404 for no such link, 410 for one used, expired or withdrawn."""
    page = render_template("auth/link_unusable.html", kind=kind, state=state)
    abort(make_response(page, 404 if state == LINK_UNKNOWN else 410))


def load_invitation_link(token: str) -> Invitation:
    """The invitation an e-mailed link names, if it can still be accepted; anyone holding the link may."""
    g.no_store = True  # a page reached with a secret link is never cached
    invitation, state = invitations.find(token)
    if invitation is None or state != LINK_VALID:
        refuse_link("invitation", state)
    return invitation


def load_reset_link(token: str) -> PasswordReset:
    """The password reset an e-mailed link names, if it can still be used."""
    g.no_store = True
    reset, state = password_reset.find(token)
    if reset is None or state != LINK_VALID:
        refuse_link("password_reset", state)
    return reset
