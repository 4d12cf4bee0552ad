"""How lists sort text in SQL, the same on both databases."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func

from ..extensions import db


def text_order(column) -> ColumnElement:
    """Case-blind, in code-point order on both databases (PostgreSQL's own collation would skip punctuation)."""
    lowered = func.lower(column)
    return lowered.collate("C") if db.session.get_bind().dialect.name == "postgresql" else lowered
