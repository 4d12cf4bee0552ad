"""The portal's words and thresholds, each defined once.

Models build their CHECK constraints from these values, forms their choices and messages, templates
their tags and the definitions the CSU reads, and exports their columns' words. A word a person sees
for a stored value is looked up here, never typed again beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

QUARTERS = (1, 2, 3, 4)

# -- traffic-light ratings ---------------------------------------------------------------------

GREEN = "green"
AMBER = "amber"
RED = "red"
RAGS = (GREEN, AMBER, RED)
RAG_LABELS = {GREEN: "Green", AMBER: "Amber", RED: "Red"}
RAG_MEANINGS = {
    GREEN: "on target",
    AMBER: "some danger of missing targets",
    RED: "unlikely to meet targets",
}
RAG_TAG_CLASSES = {GREEN: "govuk-tag--green", AMBER: "govuk-tag--orange", RED: "govuk-tag--red"}
NO_RAG_LABEL = "None"
SELECT_RAG = "Select Green, Amber or Red"  # beside the question
SELECT_A_RATING = "Select a rating: Green, Amber or Red"  # in the list of answers still needed

# The delivery RAG: Green at GREEN_FROM % of target to date or more, Amber at AMBER_FROM % or more, else Red.
GREEN_FROM = Decimal("90.0")
AMBER_FROM = Decimal("70.0")
# The spend RAG, on reported spend as a % of the profile to date: Red when spend is above the award; otherwise
# Green from SPEND_GREEN_FROM to SPEND_GREEN_TO, Amber from SPEND_AMBER_FROM to SPEND_AMBER_TO (inclusive), else Red.
SPEND_GREEN_FROM = Decimal("90.0")
SPEND_GREEN_TO = Decimal("110.0")
SPEND_AMBER_FROM = Decimal("75.0")
SPEND_AMBER_TO = Decimal("125.0")


def rag_label(rag: str | None) -> str:
    """The word for a stored rating; empty for none."""
    return RAG_LABELS.get(rag or "", "")


# -- how a measure's quarters combine -----------------------------------------------------------

COMBINE_SUM = "sum"  # added up, like referrals
COMBINE_LATEST = "latest"  # a level at quarter end, like open cases: the latest quarter's value
COMBINES = (COMBINE_SUM, COMBINE_LATEST)
COMBINE_LABELS = {COMBINE_SUM: "Added up", COMBINE_LATEST: "Latest quarter"}
COMBINE_HINTS = {
    COMBINE_SUM: "Each quarter's figure is added to the year's total, like referrals",
    COMBINE_LATEST: "The year's figure is the latest quarter's, like cases open at quarter end",
}
# Whether a measure's values may have decimal places; a new measure in one of DECIMAL_UNITS may, by default.
WHOLE = "whole"
DECIMAL = "decimal"
PRECISIONS = (WHOLE, DECIMAL)
PRECISION_LABELS = {WHOLE: "Whole numbers", DECIMAL: "Up to 2 decimal places"}
DECIMAL_UNITS = ("hours", "hour")

# Small numbers (services/disclosure.py): what a published table prints instead of a count of 1 to the threshold
# people (SMALL_NUMBER_THRESHOLD), and why, said under the table.
SMALL_NUMBER_THRESHOLD_DEFAULT = 5
# In place of a % of target that would give a hidden total away.
SMALL_NUMBER_PCT_HIDDEN = "Not shown"


def small_number_words(threshold: int) -> str:
    return f"{threshold} or fewer"


def small_number_note(threshold: int) -> str:
    words = small_number_words(threshold)
    return (
        f"Counts of 1 to {threshold} people are shown as \u201c{words}\u201d so that no one can be identified. "
        f"A total is shown as \u201c{words}\u201d too when it is that small, or when it and the quarters shown "
        "would give away a hidden count."
    )


# A retired measure (no longer asked for in new returns) is tagged with RETIRED_LABEL, like a retired organisation.
RETIRED_TAG_CLASS = "govuk-tag--grey"

# -- how figures are shown ------------------------------------------------------------------------

NO_VALUE = "—"  # a figure not reported (never "None")
NO_TARGET = "No target"  # a measure without a target for the period

# -- return statuses ---------------------------------------------------------------------------

NOT_STARTED = "not_started"  # no row yet: shown, never stored
DRAFT = "draft"
SUBMITTED = "submitted"
CHANGES_REQUESTED = "changes_requested"
APPROVED = "approved"
STATUSES = (DRAFT, SUBMITTED, CHANGES_REQUESTED, APPROVED)
REPORTED_STATUSES = (SUBMITTED, APPROVED)  # a quarter is *reported* once its return is submitted or approved
EDITABLE_STATUSES = (DRAFT, CHANGES_REQUESTED)  # what the partner may still change
STATUS_LABELS = {
    NOT_STARTED: "Not started",
    DRAFT: "Draft",
    SUBMITTED: "Submitted",
    CHANGES_REQUESTED: "Changes requested",
    APPROVED: "Approved",
}
STATUS_TAG_CLASSES = {
    NOT_STARTED: "govuk-tag--grey",
    DRAFT: "govuk-tag--yellow",
    SUBMITTED: "govuk-tag--blue",
    CHANGES_REQUESTED: "govuk-tag--orange",
    APPROVED: "govuk-tag--green",
}
OVERDUE = "overdue"  # a filter and a tag beside the status, never a stored status
OVERDUE_LABEL = "Overdue"
OVERDUE_TAG_CLASS = "govuk-tag--red"
NOT_OPEN_LABEL = "Not open"  # a quarter that has not started yet

# -- the CSU's arrangements for a quarter's return ------------------------------------------------

EXTENDED = "extended"  # a later due date than the year's usual one
NOT_REQUIRED = "not_required"  # the CSU waived the return: it is never due, so never chased or overdue
USUAL = "usual"  # no arrangement: the form's choice that removes one
ARRANGEMENTS = (EXTENDED, NOT_REQUIRED, USUAL)
ARRANGEMENT_CHOICES = {
    EXTENDED: "Extend the due date",
    NOT_REQUIRED: "Return not required",
    USUAL: "Usual due date (remove the extension or waiver)",
}
NOT_REQUIRED_LABEL = "Not required"
NOT_REQUIRED_TAG_CLASS = "govuk-tag--grey"
EXTENDED_LABEL = "extended"  # beside a due date: "14 February 2027 (extended)"

# -- a funding stream's remainder -------------------------------------------------------------------

NOT_ALLOCATED_LABEL = "Not allocated"
OVER_ALLOCATED_LABEL = "Over-allocated"

# -- the payment schedule ----------------------------------------------------------------------

PAID = "Paid"
HELD = "Held"
DUE = "Due"
NOT_YET_DUE = "Not yet due"
SCHEDULE_TAG_CLASSES = {PAID: "govuk-tag--green", HELD: "govuk-tag--orange", DUE: "govuk-tag--blue"}
SCHEDULE_TAG_DEFAULT = "govuk-tag--grey"

# -- allocation --------------------------------------------------------------------------------

OVER_ALLOCATED = "Over-allocated"  # a funding stream whose awards add up to more than its total
OVER_ALLOCATED_TAG_CLASS = "govuk-tag--orange"

# -- the return's sections, as its task list shows them ----------------------------------------

SECTIONS = ("outputs", "spend", "narrative")
SECTION_TITLES = {"outputs": "Outputs", "spend": "Spend", "narrative": "Progress and rating"}
COMPLETED = "Completed"
IN_PROGRESS = "In progress"
SECTION_NOT_STARTED = STATUS_LABELS[NOT_STARTED]
SECTION_TAG_CLASSES = {IN_PROGRESS: "govuk-tag--light-blue", SECTION_NOT_STARTED: "govuk-tag--blue"}

# -- the return's written answers --------------------------------------------------------------

NARRATIVE_FIELDS = {
    "progress": "Progress this quarter",
    "case_study": "Case study",
    "challenges": "Challenges and risks",
    "partner_rag_reason": "Reason for your rating",
    "spend_explanation": "Explanation of spend",
}
NARRATIVE_LIMITS = {
    "progress": 5000,
    "case_study": 3000,
    "challenges": 3000,
    "partner_rag_reason": 1000,
    "spend_explanation": 2000,
}
SPEND_LABEL = "Spend in the quarter"
RATING_LABEL = "Rating"
# Every answer of a return by its field name, as questions on pages, in conflicts and in the audit trail.
ANSWER_LABELS = {"spend": SPEND_LABEL, **NARRATIVE_FIELDS, "partner_rag": RATING_LABEL}


def sql_in(column: str, values: Iterable[str], *, nullable: bool = False) -> str:
    """A CHECK constraint's text allowing only these values (and NULL when nullable)."""
    allowed = f"{column} IN ({', '.join(repr(value) for value in values)})"
    return f"{column} IS NULL OR {allowed}" if nullable else allowed


# -- the audit trail ---------------------------------------------------------------------------

# The kinds of object an audit event is about (AuditEvent.object_type), as the audit trail names them.
OBJECT_TYPE_LABELS = {
    "financial_year": "Financial year",
    "funding_stream": "Funding stream",
    "priority": "Priority",
    "organisation": "Organisation",
    "project": "Project",
    "output_measure": "Output measure",
    "monitoring_return": "Quarterly return",
    "payment": "Payment",
    "user": "User account",
    # Recorded by the mail and invitations work (branch h-mail), named here so its events can be filtered.
    "invitation": "Invitation",
    "outbox_message": "Mail message",
    "retention": "Retention (old narrative text removed)",
}
AUDIT_BLANK = "blank"  # a value that was (or became) empty
AUDIT_YES, AUDIT_NO = "Yes", "No"
AUDIT_TEXT_CHANGED = "changed (the text is not kept in the audit trail)"
# The partner's reason for submitting over the personal-data checks: kept with the revision (where a redaction can
# reach it), never copied into the append-only trail.
AUDIT_REASON_GIVEN = "given (kept with the revision, not in the audit trail)"
SYSTEM_ACTOR = "The portal (command line or import)"  # an event with no actor
# A draft autosaves as the partner types (every few seconds): the trail keeps one "saved" event per section and person
# per this many minutes. A later autosave of the same section by the same person within the window writes none (the
# submission records every answer); a button press always writes one, and so does the first save after a change of
# state (submitted, sent back, reopened).
AUTOSAVE_AUDIT_MINUTES = 10

# -- accounts and organisations ------------------------------------------------------------------

ACTIVE_LABEL = "Active"
DEACTIVATED_LABEL = "Deactivated"
RETIRED_LABEL = "Retired"


# -- mail in the outbox ------------------------------------------------------------------------

MAIL_QUEUED = "queued"  # waiting for the worker (a first try, or a retry after back-off)
MAIL_SENDING = "sending"  # claimed by a worker, which is talking to the mail server
MAIL_SENT = "sent"
MAIL_FAILED = "failed"  # every attempt refused: the worker has given up
MAIL_UNKNOWN = "unknown"  # a worker stopped mid-send: the server may or may not have it; never resent by itself
MAIL_STATUSES = (MAIL_QUEUED, MAIL_SENDING, MAIL_SENT, MAIL_FAILED, MAIL_UNKNOWN)
MAIL_SEND_AGAIN_STATUSES = (MAIL_FAILED, MAIL_UNKNOWN)  # what an administrator may send again, deliberately
MAIL_STATUS_LABELS = {
    MAIL_QUEUED: "Waiting to send",
    MAIL_SENDING: "Sending",
    MAIL_SENT: "Sent",
    MAIL_FAILED: "Not sent",
    MAIL_UNKNOWN: "Not known whether sent",
}
MAIL_STATUS_TAG_CLASSES = {
    MAIL_QUEUED: "govuk-tag--grey",
    MAIL_SENDING: "govuk-tag--light-blue",
    MAIL_SENT: "govuk-tag--green",
    MAIL_FAILED: "govuk-tag--red",
    MAIL_UNKNOWN: "govuk-tag--orange",
}

# What a message is about (OutboxMessage.kind): account mail, notifications of events, reminders and digests.
MAIL_KIND_INVITATION = "invitation"
MAIL_KIND_PASSWORD_RESET = "password_reset"  # noqa: S105 (a kind of mail, not a password)
MAIL_KIND_RETURN_SUBMITTED = "return_submitted"  # to the CSU
MAIL_KIND_RETURN_SENT_BACK = "return_sent_back"  # to the partner, with the CSU's comment
MAIL_KIND_RETURN_APPROVED = "return_approved"  # to the partner
MAIL_KIND_RETURN_REOPENED = "return_reopened"  # to the partner, with the CSU's reason
MAIL_KIND_PAYMENT_RECORDED = "payment_recorded"  # to the partner
MAIL_KIND_DUE_SOON = "due_soon"  # a reminder before a return is due
MAIL_KIND_OVERDUE = "overdue"  # a reminder once a return is overdue, then weekly
MAIL_KIND_CSU_DIGEST = "csu_digest"  # the CSU's weekly digest
MAIL_KIND_CHASE = "chase"  # the CSU chasing overdue returns from the due list
MAIL_KIND_DAILY_SUMMARY = "daily_summary"  # one mail a day gathering what a person chose to get as a summary
MAIL_KINDS = (
    MAIL_KIND_INVITATION,
    MAIL_KIND_PASSWORD_RESET,
    MAIL_KIND_RETURN_SUBMITTED,
    MAIL_KIND_RETURN_SENT_BACK,
    MAIL_KIND_RETURN_APPROVED,
    MAIL_KIND_RETURN_REOPENED,
    MAIL_KIND_PAYMENT_RECORDED,
    MAIL_KIND_DUE_SOON,
    MAIL_KIND_OVERDUE,
    MAIL_KIND_CSU_DIGEST,
    MAIL_KIND_CHASE,
    MAIL_KIND_DAILY_SUMMARY,
)
# Sent to everyone they concern whatever their preferences say: no one can turn these off.
MANDATORY_MAIL_KINDS = (MAIL_KIND_OVERDUE, MAIL_KIND_CHASE, MAIL_KIND_INVITATION, MAIL_KIND_PASSWORD_RESET)
# What a person chooses for, in "Your account" (the daily summary is the consequence of a choice, not one).
OPTIONAL_MAIL_KINDS = (
    MAIL_KIND_RETURN_SUBMITTED,
    MAIL_KIND_RETURN_SENT_BACK,
    MAIL_KIND_RETURN_APPROVED,
    MAIL_KIND_RETURN_REOPENED,
    MAIL_KIND_PAYMENT_RECORDED,
    MAIL_KIND_DUE_SOON,
    MAIL_KIND_CSU_DIGEST,
)
MAIL_KIND_LABELS = {
    MAIL_KIND_INVITATION: "Invitation",
    MAIL_KIND_PASSWORD_RESET: "Password reset",
    MAIL_KIND_RETURN_SUBMITTED: "A return submitted for review",
    MAIL_KIND_RETURN_SENT_BACK: "A return sent back for changes",
    MAIL_KIND_RETURN_APPROVED: "A return approved",
    MAIL_KIND_RETURN_REOPENED: "A return reopened",
    MAIL_KIND_PAYMENT_RECORDED: "A payment recorded",
    MAIL_KIND_DUE_SOON: "A return due soon",
    MAIL_KIND_OVERDUE: "Overdue return reminders",
    MAIL_KIND_CSU_DIGEST: "The weekly digest of returns",
    MAIL_KIND_CHASE: "Chasing an overdue return",
    MAIL_KIND_DAILY_SUMMARY: "Daily summary",
}
# When each kind is sent, as "Your account" explains it.
MAIL_KIND_DESCRIPTIONS = {
    MAIL_KIND_INVITATION: "When an administrator invites you to the portal",
    MAIL_KIND_PASSWORD_RESET: "When you ask to reset your password",
    MAIL_KIND_RETURN_SUBMITTED: "When a partner submits a quarterly return for the Community Safety Unit to review",
    MAIL_KIND_RETURN_SENT_BACK: "When the Community Safety Unit sends one of your returns back, with its comment",
    MAIL_KIND_RETURN_APPROVED: "When the Community Safety Unit approves one of your returns",
    MAIL_KIND_RETURN_REOPENED: "When the Community Safety Unit reopens an approved return, with its reason",
    MAIL_KIND_PAYMENT_RECORDED: "When finance records a payment to one of your projects",
    MAIL_KIND_DUE_SOON: "A reminder a week before one of your returns is due",
    MAIL_KIND_OVERDUE: "When one of your returns is overdue, then weekly until it is submitted",
    MAIL_KIND_CSU_DIGEST: "Each week: returns due soon, overdue and waiting for review",
    MAIL_KIND_CHASE: "When the Community Safety Unit chases an overdue return",
    MAIL_KIND_DAILY_SUMMARY: "Once a day, what you chose to get as a daily summary",
}

# How a person receives an optional kind of mail.
DELIVERY_EACH = "each"  # a message as each thing happens (the default)
DELIVERY_DAILY = "daily"  # gathered into one summary a day
DELIVERY_NONE = "none"
DELIVERIES = (DELIVERY_EACH, DELIVERY_DAILY, DELIVERY_NONE)
DELIVERY_LABELS = {DELIVERY_EACH: "Each message", DELIVERY_DAILY: "A daily summary", DELIVERY_NONE: "None"}
MANDATORY_DELIVERY_LABEL = "Always sent"
MANDATORY_REFUSAL = "“{label}” is always sent and cannot be turned off"
NOT_OFFERED_REFUSAL = "“{label}” is not a kind of mail you receive"

# -- invitations and password-reset links --------------------------------------------------------

LINK_VALID = "valid"
LINK_EXPIRED = "expired"
LINK_USED = "used"
LINK_REVOKED = "revoked"
LINK_UNKNOWN = "unknown"  # no such link: never said to be anyone's
INVITATION_STATE_LABELS = {
    LINK_VALID: "Waiting",
    LINK_EXPIRED: "Expired",
    LINK_USED: "Accepted",
    LINK_REVOKED: "Withdrawn",
}
INVITATION_STATE_TAG_CLASSES = {
    LINK_VALID: "govuk-tag--blue",
    LINK_EXPIRED: "govuk-tag--grey",
    LINK_USED: "govuk-tag--green",
    LINK_REVOKED: "govuk-tag--grey",
}

# -- reminders and chasing from the due list ------------------------------------------------------

REMINDER_MAIL_KINDS = (MAIL_KIND_DUE_SOON, MAIL_KIND_OVERDUE, MAIL_KIND_CSU_DIGEST, MAIL_KIND_CHASE)  # reminders.py
# The due list's "state" filter: its values in the URL and the words beside them.
DUE_SOON = "due_soon"  # not reported, due within the next DUE_SOON_DAYS days
DUE_SOON_LABEL = "Due soon"
DUE_SOON_DAYS = 14
DUE_STATES = {OVERDUE: OVERDUE_LABEL, DUE_SOON: DUE_SOON_LABEL}
NO_ONE_TO_REMIND = "No active user: nobody can be reminded"
NEVER_REMINDED = "Not yet"

# The personal-data guard: the warning after a save, the CSU's flag and its one-action request, the override's limit.
PERSONAL_DATA_SAVED = "Some answers look like they contain personal information: check the warnings below."
PERSONAL_DATA_FLAG = "Possible personal data"
PERSONAL_DATA_REASON_LIMIT = 500
REAUTH_REFUSED_MESSAGE = "Your password is not correct"  # the "Confirm it's you" page's message
# An uploaded set-up workbook may unpack to at most this much (a national year's workbook is a few MB) in at most
# this many parts: a "zip bomb" of a few hundred KB that unpacks to gigabytes is refused before it is read.
WORKBOOK_MAX_UNPACKED_BYTES = 50 * 1024 * 1024
WORKBOOK_MAX_PARTS = 200
PERSONAL_DATA_REASON_LABEL = "Why these answers do not contain personal information"
# What a redacted passage becomes, in the return, every revision and everything shown or exported from them.
REDACTED_TEXT = "[removed]"
REDACTION_REASON_LIMIT = 500
# The written answers of a revision a redaction can reach, as the redaction page names them.
REDACTION_FIELD_LABELS = {**NARRATIVE_FIELDS, "personal_data_reason": PERSONAL_DATA_REASON_LABEL}
PERSONAL_DATA_REMOVAL_COMMENT = (
    "Some answers look like they contain personal information about a victim or client ({kinds}). "
    "Remove it, or replace it with an anonymised description, and submit the return again."
)

# -- signing in with a second factor, and the idle timeout (services/mfa.py, auth/mfa.py) ------------------------

MFA_CODE_WRONG = "The code is not correct. Enter the 6-digit code shown in your authenticator app now"
MFA_CODE_MISSING = "Enter the 6-digit code from your authenticator app"
MFA_CODE_FORMAT = "The code must be 6 digits, like 123456"
MFA_RECOVERY_WRONG = "The recovery code is not correct, or it has already been used"
MFA_RECOVERY_MISSING = "Enter one of your recovery codes"
MFA_THROTTLED = "There have been too many wrong codes for this account. Wait 5 minutes and try again."
MFA_PENDING_EXPIRED = "Sign in again: more than 5 minutes passed after you entered your password."
MFA_ON_LABEL = "On: you enter a code from your authenticator app when you sign in"
MFA_OFF_LABEL = "Off"
MFA_REQUIRED_NOTE = "Your role needs it, so it cannot be turned off"
SESSION_IDLE_SIGNED_OUT = "You were signed out because you had not used the portal for {minutes} minutes."
SESSION_ABSOLUTE_SIGNED_OUT = "You were signed out because you signed in more than {hours} hours ago."
MFA_SIGN_IN_ELSEWHERE = (
    "Your account needs an authenticator app set up first, which this page cannot do. Sign in on the sign-in page "
    "in a new tab and set it up, then come back here and press the button again: your answers are still here."
)
