"""Redaction: a passage of a submitted return's written answers replaced by "[removed]", everywhere, for good.

The CSU (or an admin) names the passage as it appears in one answer of one revision. It is replaced wherever
the return holds it: every written answer of every revision (revisions are otherwise immutable; the database
allows this change and retention's, `revision_guard_ddl` in models/audit.py), the live return's answers, the
CSU's comment on it and any mail in the outbox quoting it. Pages, comparisons and exports read those rows, so
they show "[removed]" from then on. The redaction is audited with who, when, why, which answer and how many
places; never the passage. (A CSU comment quoting the passage stays in the audit trail's record of that decision:
the trail is append-only; the comment on the return and the mail are redacted.)

Copies the portal does not keep: the audit trail records narrative answers only as "changed", autosave
overwrites the draft rather than appending, and nothing indexes the text. On SQLite, `secure_delete` zeroes the
space the old text occupied and the view checkpoints the write-ahead log after the redaction commits
(`database.forget_overwritten_pages`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from sqlalchemy import or_, select

from ..extensions import db
from ..models import MonitoringReturn, OutboxMessage, User
from ..models.audit import REVISION_NARRATIVE_COLUMNS, REVISION_REDACTABLE_COLUMNS
from ..models.monitoring_return import ReturnRevision
from ..models.vocabulary import NARRATIVE_FIELDS, REDACTED_TEXT, REDACTION_FIELD_LABELS
from . import audit
from .personal_data import findings_for
from .returns import note_personal_data

REDACTED = "monitoring_return.redacted"
# The live return's texts: the partner's answers and the CSU's comment to the partner.
RETURN_REDACTABLE_COLUMNS = (*NARRATIVE_FIELDS, "review_comment")


class RedactionError(Exception):
    """The passage cannot be redacted as asked; the message says why, for the field it names."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RedactionResult:
    places: int  # how many occurrences were replaced, across the return and its revisions
    rows: int  # how many rows (the return and revisions) changed


def redactable_answers(revision: ReturnRevision) -> list[tuple[str, str, str]]:
    """The revision's written answers that have text: (column, label, text), in the page's order."""
    return [
        (column, REDACTION_FIELD_LABELS[column], text)
        for column in REVISION_REDACTABLE_COLUMNS
        if (text := getattr(revision, column))
    ]


def revisions_with_personal_data(mreturn: MonitoringReturn) -> list[tuple[ReturnRevision, list[str]]]:
    """Each submitted revision whose written answers still look like personal data, with what it looks like."""
    found = []
    for revision in mreturn.revisions:
        findings = findings_for({column: getattr(revision, column) for column in REVISION_NARRATIVE_COLUMNS})
        if findings:
            found.append((revision, list(dict.fromkeys(finding.label for _, finding in findings))))
    return found


def _as_stored(passage: str, text: str) -> str | None:
    """The passage as the answer holds it: browsers send line breaks as CRLF, answers may hold either."""
    for candidate in (passage, passage.replace("\r\n", "\n"), passage.replace("\r\n", "\n").replace("\n", "\r\n")):
        if candidate and candidate in text:
            return candidate
    return None


def _replace(row, columns: tuple[str, ...], passage: str) -> int:
    places = 0
    for column in columns:
        text = getattr(row, column)
        if text and passage in text:
            places += text.count(passage)
            setattr(row, column, text.replace(passage, REDACTED_TEXT))
    return places


def _redact_mail(passage: str) -> int:
    """Mail the portal wrote (a CSU comment quoting the passage, sent to the partner) keeps no copy either."""
    escaped = html.escape(passage)
    places = 0
    for message in db.session.scalars(
        select(OutboxMessage).where(
            or_(
                OutboxMessage.text_body.contains(passage, autoescape=True),
                OutboxMessage.html_body.contains(escaped, autoescape=True),
            )
        )
    ):
        places += message.text_body.count(passage) + message.html_body.count(escaped)
        message.text_body = message.text_body.replace(passage, REDACTED_TEXT)
        message.html_body = message.html_body.replace(escaped, html.escape(REDACTED_TEXT))
    return places


def redact_passage(
    mreturn: MonitoringReturn, revision: ReturnRevision, column: str, passage: str, *, reason: str, by: User
) -> RedactionResult:
    """Replace `passage` (found in `column` of `revision`) by REDACTED_TEXT in the return and all its revisions."""
    if column not in REVISION_REDACTABLE_COLUMNS:
        raise RedactionError("field", "Select the answer the passage is in")
    stored = _as_stored(passage, getattr(revision, column) or "")
    if stored is None or not stored.strip():
        raise RedactionError("passage", "Enter text exactly as it appears in the answer you selected")
    if stored == REDACTED_TEXT:
        raise RedactionError("passage", "That passage has already been removed")
    if stored in reason:
        raise RedactionError("reason", "Do not repeat the passage in the reason: describe what it is instead")
    places, rows = 0, 0
    for row, columns in [(r, REVISION_REDACTABLE_COLUMNS) for r in mreturn.revisions] + [
        (mreturn, RETURN_REDACTABLE_COLUMNS)
    ]:
        found = _replace(row, columns, stored)
        places, rows = places + found, rows + bool(found)
    note_personal_data(mreturn)
    places += _redact_mail(stored)
    label = REDACTION_FIELD_LABELS[column]
    audit.record(
        REDACTED,
        object_type="monitoring_return",
        object_id=mreturn.id,
        organisation_id=mreturn.project.organisation_id,
        summary=(
            f"Removed a passage from “{label}” of revision {revision.number} of the Q{mreturn.quarter} return: "
            f"{mreturn.project.name}"
        ),
        actor=by,
        details={"field": label, "revision": revision.number, "places": places, "comment": reason},
    )
    return RedactionResult(places=places, rows=rows)
