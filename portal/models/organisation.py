"""Organisations funded by the partnership, and the registered numbers their 360Giving ids are made from."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, String
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime

# The Charity Commission for England and Wales numbers charities with 6 or 7 digits; the Scottish Charity
# Regulator with SC and 6 digits (org-id.guide: GB-CHC, GB-SC). Companies House numbers are 8 characters:
# 8 digits, or 2 letters and 6 digits (SC, NI, OC …), or R and 7 digits (GB-COH).
CHARITY_NUMBER = re.compile(r"^(?:[0-9]{6,7}|SC[0-9]{6})$")
COMPANY_NUMBER = re.compile(r"^(?:[0-9]{8}|[A-Z]{2}[0-9]{6}|R[0-9]{7})$")
CHARITY_NUMBER_FORMAT = (
    "Enter a charity number in the correct format: 6 or 7 digits for England and Wales, like 1012345, "
    "or SC and 6 digits for Scotland, like SC012345"
)
COMPANY_NUMBER_FORMAT = "Enter a company number in the correct format: 8 characters, like 01234567 or SC123456"


def registered_number(text: str | None) -> str:
    """A registered number as the registers write it: no spaces, upper case."""
    return re.sub(r"\s+", "", text or "").upper()


def charity_number(text: str | None) -> str | None:
    """The charity number as registered, None when blank; ValueError when it is not one."""
    number = registered_number(text)
    if not number:
        return None
    if not CHARITY_NUMBER.match(number):
        raise ValueError(CHARITY_NUMBER_FORMAT)
    return number


def company_number(text: str | None) -> str | None:
    """The company number as Companies House writes it (1234567 is 01234567), None when blank; ValueError
    when it is not one."""
    number = registered_number(text)
    if not number:
        return None
    if number.isdigit() and len(number) < 8:
        number = number.zfill(8)
    if not COMPANY_NUMBER.match(number):
        raise ValueError(COMPANY_NUMBER_FORMAT)
    return number


class _Viewer(Protocol):
    """The signed-in person (a User: this module is below models.user, which names the roles)."""

    @property
    def can_manage_organisations(self) -> bool: ...


class Organisation(Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    short_name: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    charity_number: Mapped[str | None] = mapped_column(String(20))
    company_number: Mapped[str | None] = mapped_column(String(20))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    # Retired: no longer funded. Its projects, returns and payments stay; it is offered for nothing new.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @hybrid_property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    @is_retired.inplace.expression
    @classmethod
    def _is_retired_expression(cls) -> ColumnElement[bool]:
        return cls.retired_at.is_not(None)

    def can_edit(self, user: _Viewer) -> bool:
        """Administrators add and change organisations; everyone else reads them."""
        return user.can_manage_organisations

    def can_retire(self, user: _Viewer) -> bool:
        return self.can_edit(user) and not self.is_retired

    def can_reinstate(self, user: _Viewer) -> bool:
        return self.can_edit(user) and self.is_retired

    def __repr__(self) -> str:
        return f"<Organisation {self.short_name}>"
