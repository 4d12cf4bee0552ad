"""Invitations: a one-time link by e-mail with which a person sets up their own account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .organisation import Organisation
from .types import UTCDateTime, utcnow
from .user import ADMIN, User
from .vocabulary import LINK_EXPIRED, LINK_REVOKED, LINK_USED, LINK_VALID


class Invitation(Model):
    """Who is invited, with which roles (and organisation, for a partner); the link's token only as a hash."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    # SHA-256 of the link's token; a resend replaces it, so the old link stops working.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    organisation: Mapped[Organisation | None] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    def state(self, now: datetime) -> str:
        """Accepted, withdrawn, expired, or still waiting (LINK_VALID): what its link does if followed now."""
        if self.accepted_at is not None:
            return LINK_USED
        if self.revoked_at is not None:
            return LINK_REVOKED
        if now >= self.expires_at:
            return LINK_EXPIRED
        return LINK_VALID

    @staticmethod
    def can_manage(user: User) -> bool:
        return user.has_role(ADMIN)

    def can_resend(self, user: User, now: datetime) -> bool:
        """Waiting or expired: a new link replaces the old one. Accepted and withdrawn invitations are done."""
        return self.can_manage(user) and self.state(now) in (LINK_VALID, LINK_EXPIRED)

    def can_revoke(self, user: User, now: datetime) -> bool:
        return self.can_manage(user) and self.state(now) in (LINK_VALID, LINK_EXPIRED)

    def __repr__(self) -> str:
        return f"<Invitation {self.id}>"
