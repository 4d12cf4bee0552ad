"""Organisations: add, change, retire and reinstate them, each change audited with its before and after."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Organisation, User
from ..models.organisation import charity_number, company_number
from ..models.types import utcnow
from . import audit
from .users import deactivate

SHORT_NAME_LIMIT = 50
NAME_LIMIT = 300


class OrganisationError(ValueError):
    """A change refused; `field` names the form field it belongs beside, when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class OrganisationDetails:
    """What an administrator types about an organisation (blank optional answers are None)."""

    name: str
    short_name: str
    charity_number: str | None = None
    company_number: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


def _checked(details: OrganisationDetails) -> dict[str, Any]:
    """The details as they are stored: trimmed, registered numbers as the registers write them."""
    values = {key: (" ".join(value.split()) or None) if value else None for key, value in asdict(details).items()}
    if not values["name"]:
        raise OrganisationError("Enter the organisation's name", "name")
    if not values["short_name"]:
        raise OrganisationError("Enter a short name", "short_name")
    if len(values["name"]) > NAME_LIMIT:
        raise OrganisationError(f"Name must be {NAME_LIMIT} characters or fewer", "name")
    if len(values["short_name"]) > SHORT_NAME_LIMIT:
        raise OrganisationError(f"Short name must be {SHORT_NAME_LIMIT} characters or fewer", "short_name")
    for field, normalise in (("charity_number", charity_number), ("company_number", company_number)):
        try:
            values[field] = normalise(values[field])
        except ValueError as error:
            raise OrganisationError(str(error), field) from None
    return values


def short_name_taken(short_name: str, *, other_than: int | None = None) -> bool:
    """Short names are unique whatever their case: people and the command line find organisations by them."""
    query = select(Organisation.id).where(func.lower(Organisation.short_name) == short_name.strip().lower())
    if other_than is not None:
        query = query.where(Organisation.id != other_than)
    return db.session.scalar(query.limit(1)) is not None


def _taken(short_name: str) -> OrganisationError:
    return OrganisationError(f"Another organisation already has the short name {short_name}", "short_name")


def _flush(short_name: str) -> None:
    try:
        db.session.flush()
    except IntegrityError:
        # Another administrator took the short name between our check and this write.
        db.session.rollback()
        raise _taken(short_name) from None


def _audit(organisation: Organisation, action: str, summary: str, changes: dict[str, list[Any]], by: User) -> None:
    audit.record(
        action,
        object_type="organisation",
        object_id=organisation.id,
        summary=summary,
        actor=by,
        organisation_id=organisation.id,
        details={"changes": changes},
    )


def add_organisation(details: OrganisationDetails, *, by: User) -> Organisation:
    values = _checked(details)
    if short_name_taken(values["short_name"]):
        raise _taken(values["short_name"])
    organisation = Organisation(**values)
    db.session.add(organisation)
    _flush(values["short_name"])
    changes = {key: [None, value] for key, value in values.items() if value is not None}
    _audit(organisation, "organisation.created", f"Added the organisation {organisation.short_name}", changes, by)
    return organisation


def edit_organisation(organisation: Organisation, details: OrganisationDetails, *, by: User) -> bool:
    """Change an organisation's details; False when nothing changed."""
    values = _checked(details)
    if short_name_taken(values["short_name"], other_than=organisation.id):
        raise _taken(values["short_name"])
    changes = {
        key: [getattr(organisation, key), value] for key, value in values.items() if getattr(organisation, key) != value
    }
    if not changes:
        return False
    for key, (_before, after) in changes.items():
        setattr(organisation, key, after)
    _flush(values["short_name"])
    _audit(organisation, "organisation.updated", f"Changed the organisation {organisation.short_name}", changes, by)
    return True


def people_of(organisation: Organisation) -> list[User]:
    return list(
        db.session.scalars(select(User).where(User.organisation_id == organisation.id).order_by(User.name, User.email))
    )


def people_to_deactivate(organisation: Organisation, *, by: User) -> list[User]:
    """Who retiring the organisation stops signing in: its active people (never the administrator retiring it)."""
    return [person for person in people_of(organisation) if person.active and person.id != by.id]


def retire_organisation(organisation: Organisation, *, by: User) -> list[User]:
    """Retire an organisation: its history stays, it is offered for nothing new, and its people are deactivated
    (their sessions end). Returns the people deactivated."""
    if organisation.is_retired:
        raise OrganisationError(f"{organisation.name} is already retired")
    people = people_to_deactivate(organisation, by=by)
    organisation.retired_at = utcnow()
    db.session.flush()
    summary = f"Retired the organisation {organisation.short_name}"
    _audit(organisation, "organisation.retired", summary, {"retired": [False, True]}, by)
    for person in people:
        deactivate(person, actor=by)
    return people


def reinstate_organisation(organisation: Organisation, *, by: User) -> None:
    """Offer a retired organisation again. Its people stay deactivated until an administrator reactivates them."""
    if not organisation.is_retired:
        raise OrganisationError(f"{organisation.name} is not retired")
    organisation.retired_at = None
    db.session.flush()
    summary = f"Reinstated the organisation {organisation.short_name}"
    _audit(organisation, "organisation.reinstated", summary, {"retired": [True, False]}, by)


def open_organisations() -> list[Organisation]:
    """The organisations that may be given new projects, people and invitations: those not retired."""
    return list(db.session.scalars(select(Organisation).where(~Organisation.is_retired).order_by(Organisation.name)))
