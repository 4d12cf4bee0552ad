"""A person's second factor: an authenticator app's TOTP secret (RFC 6238) and ten single-use recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .user import User


class SecondFactor(Model):
    """One per person. Not enabled (enabled_at empty) while they are setting it up: the secret is shown, no code
    has been confirmed yet. The secret is stored as it is (base32): see services/mfa.py for why."""

    __tablename__ = "second_factor"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The 30-second time step of the last code accepted: a code for that step or an earlier one is refused.
    last_step: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship()

    @property
    def is_enabled(self) -> bool:
        return self.enabled_at is not None

    def accepts_step(self, step: int) -> bool:
        """A code is good once: only a step after the last one accepted."""
        return self.last_step is None or step > self.last_step


class RecoveryCode(Model):
    """A single-use code for when the authenticator app is lost; only its SHA-256 hash is kept."""

    __tablename__ = "recovery_code"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_used(self) -> bool:
        return self.used_at is not None
