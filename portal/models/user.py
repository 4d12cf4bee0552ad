"""People who sign in, their roles, and failed sign-ins (the throttle's memory)."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .organisation import Organisation
from .types import UTCDateTime, utcnow
from .vocabulary import sql_in

PARTNER = "partner"
CSU = "csu"
FINANCE = "finance"
ADMIN = "admin"
ROLES = (PARTNER, CSU, FINANCE, ADMIN)
STAFF = (CSU, FINANCE, ADMIN)  # see every organisation's projects
LEDGER_KEEPERS = (FINANCE, ADMIN)  # change awards, payments and the year end
SETS_UP = (CSU, ADMIN)  # set a year up: streams, priorities, projects and their measures
ACCOUNT_KEEPERS = (ADMIN,)  # add and change organisations; deactivate people and change their roles
AUDIT_READERS = (CSU, ADMIN)  # read the audit trail
ROLE_LABELS = {PARTNER: "Partner", CSU: "Community Safety Unit", FINANCE: "Finance", ADMIN: "Administrator"}
OWN_ACCOUNT = "You cannot deactivate your own account. Another administrator can."
ALREADY_DEACTIVATED = "This account is already deactivated"
NOT_DEACTIVATED = "This account is not deactivated"
OWN_ADMIN_ROLE = "You cannot remove your own administrator role. Another administrator can."


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    # Flask-Login's alternative id: rotating it ends every session of this user.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation | None] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def roles(self) -> set[str]:
        return {row.role for row in self.role_rows}

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def can_see_all_organisations(self) -> bool:
        return self.has_role(*STAFF)

    def is_partner_of(self, organisation_id: int | None) -> bool:
        return self.has_role(PARTNER) and organisation_id is not None and self.organisation_id == organisation_id

    def end_all_sessions(self) -> None:
        self.session_token = new_session_token()

    # -- what this person may do to organisations and to other people's accounts -----------------

    @property
    def can_manage_organisations(self) -> bool:
        return self.has_role(*ACCOUNT_KEEPERS)

    @property
    def can_read_audit_trail(self) -> bool:
        return self.has_role(*AUDIT_READERS)

    def can_manage(self, user: User) -> bool:
        """Whether `user` (an administrator) sees this account's page and changes it."""
        return user.has_role(*ACCOUNT_KEEPERS)

    def deactivation_refusal(self, user: User | None) -> str | None:
        """Why `user` may not deactivate this account (None: they may). No one deactivates themselves."""
        if user is not None and user.id == self.id:
            return OWN_ACCOUNT
        return None if self.active else ALREADY_DEACTIVATED

    def can_deactivate(self, user: User) -> bool:
        return self.can_manage(user) and self.deactivation_refusal(user) is None

    def can_reactivate(self, user: User) -> bool:
        return self.can_manage(user) and not self.active

    def can_remove_admin_role(self, user: User) -> bool:
        """An administrator cannot take away their own administrator role: the portal always keeps one."""
        return self.can_manage(user) and user.id != self.id

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class UserRole(Model):
    __tablename__ = "user_role"
    __table_args__ = (
        UniqueConstraint("user_id", "role"),
        CheckConstraint(sql_in("role", ROLES), name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))


class SignInFailure(Model):
    """One failed sign-in for an account key (a hash of the e-mail, known account or not), and for the client
    address it came from (hashed too), so spraying many accounts from one client is limited as well."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (
        Index("ix_sign_in_failure_key_at", "account_key", "at"),
        Index("ix_sign_in_failure_client_at", "client_key", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_key: Mapped[str] = mapped_column(String(64))
    client_key: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
