"""Which mail a person receives: one row per optional kind they have changed from "each message"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow
from .user import CSU, PARTNER, ROLES, User
from .vocabulary import (
    DELIVERIES,
    MAIL_KIND_CHASE,
    MAIL_KIND_CSU_DIGEST,
    MAIL_KIND_DUE_SOON,
    MAIL_KIND_INVITATION,
    MAIL_KIND_OVERDUE,
    MAIL_KIND_PASSWORD_RESET,
    MAIL_KIND_PAYMENT_RECORDED,
    MAIL_KIND_RETURN_APPROVED,
    MAIL_KIND_RETURN_REOPENED,
    MAIL_KIND_RETURN_SENT_BACK,
    MAIL_KIND_RETURN_SUBMITTED,
    MANDATORY_MAIL_KINDS,
    OPTIONAL_MAIL_KINDS,
    sql_in,
)

# Who each kind of mail is sent to, so "Your account" offers a person only the mail they can receive.
MAIL_KIND_ROLES: dict[str, tuple[str, ...]] = {
    MAIL_KIND_RETURN_SUBMITTED: (CSU,),
    MAIL_KIND_CSU_DIGEST: (CSU,),
    MAIL_KIND_RETURN_SENT_BACK: (PARTNER,),
    MAIL_KIND_RETURN_APPROVED: (PARTNER,),
    MAIL_KIND_RETURN_REOPENED: (PARTNER,),
    MAIL_KIND_PAYMENT_RECORDED: (PARTNER,),
    MAIL_KIND_DUE_SOON: (PARTNER,),
    MAIL_KIND_OVERDUE: (PARTNER,),
    MAIL_KIND_CHASE: (PARTNER,),
    MAIL_KIND_INVITATION: ROLES,
    MAIL_KIND_PASSWORD_RESET: ROLES,
}


def receives(user: User, kind: str) -> bool:
    """Whether mail of this kind is ever sent to this person (by their roles)."""
    return user.has_role(*MAIL_KIND_ROLES.get(kind, ()))


def optional_kinds_for(user: User) -> list[str]:
    """The kinds this person chooses for, in the vocabulary's order."""
    return [kind for kind in OPTIONAL_MAIL_KINDS if receives(user, kind)]


def mandatory_kinds_for(user: User) -> list[str]:
    """The kinds always sent to this person, whatever they choose."""
    return [kind for kind in MANDATORY_MAIL_KINDS if receives(user, kind)]


class MailPreference(Model):
    """A person's choice for one optional kind of mail. No row: each message. Mandatory kinds have no row."""

    __tablename__ = "mail_preference"
    __table_args__ = (
        UniqueConstraint("user_id", "kind"),
        CheckConstraint(sql_in("kind", OPTIONAL_MAIL_KINDS), name="kind_optional"),
        CheckConstraint(sql_in("delivery", DELIVERIES), name="delivery_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    delivery: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<MailPreference {self.user_id} {self.kind} {self.delivery}>"
