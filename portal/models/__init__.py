"""The data model: one module per concept."""

from . import vocabulary
from .arrangement import ReturnArrangement
from .audit import APPEND_ONLY_TABLES, AuditEvent, _attach_append_only
from .csu_rating import CsuRating
from .digest import PendingDigestItem
from .invitation import Invitation
from .ledger import AwardVariation, PaymentInstalment
from .mail_preference import MailPreference
from .mfa import RecoveryCode, SecondFactor
from .monitoring_return import MeasureValue, MonitoringReturn, ReturnRevision
from .organisation import Organisation
from .outbox import OutboxMessage
from .password_reset import PasswordReset, PasswordResetRequest
from .payment import Payment
from .project import OutputMeasure, Project
from .reminder import DigestSent, ReminderSent
from .summary import ProjectSummary
from .user import SignInFailure, User, UserRole
from .year import FinancialYear, FundingStream, Priority

for _table in APPEND_ONLY_TABLES:
    _attach_append_only(_table)

__all__ = [
    "AuditEvent",
    "AwardVariation",
    "CsuRating",
    "DigestSent",
    "FinancialYear",
    "FundingStream",
    "Invitation",
    "MailPreference",
    "MeasureValue",
    "MonitoringReturn",
    "Organisation",
    "OutboxMessage",
    "OutputMeasure",
    "PasswordReset",
    "PasswordResetRequest",
    "Payment",
    "PaymentInstalment",
    "PendingDigestItem",
    "Priority",
    "Project",
    "ProjectSummary",
    "RecoveryCode",
    "ReminderSent",
    "ReturnArrangement",
    "ReturnRevision",
    "SecondFactor",
    "SignInFailure",
    "User",
    "UserRole",
    "vocabulary",
]
