"""Forgotten passwords: one-time reset links, and the requests the throttle counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .user import User
from .vocabulary import LINK_EXPIRED, LINK_USED, LINK_VALID


class PasswordReset(Model):
    """A reset link sent to a user; the token only as its SHA-256 hash."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def state(self, now: datetime) -> str:
        if self.used_at is not None:
            return LINK_USED
        if now >= self.expires_at:
            return LINK_EXPIRED
        return LINK_VALID

    def __repr__(self) -> str:
        return f"<PasswordReset {self.id}>"


class PasswordResetRequest(Model):
    """One request for a reset link, known address or not: hashes of the address and of the client's IP."""

    __tablename__ = "password_reset_request"
    __table_args__ = (
        Index("ix_password_reset_request_address_key_at", "address_key", "at"),
        Index("ix_password_reset_request_client_key_at", "client_key", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address_key: Mapped[str] = mapped_column(String(64))
    client_key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
