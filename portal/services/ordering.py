"""How lists sort in SQL, the same on both databases."""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, func

from ..extensions import db


def code_point_order(column) -> ColumnElement:
    """In code-point order, as Python sorts, on both databases (PostgreSQL's own collation would skip punctuation)."""
    return column.collate("C") if db.session.get_bind().dialect.name == "postgresql" else column


def text_order(column) -> ColumnElement:
    """Case-blind, in code-point order on both databases."""
    return code_point_order(func.lower(column))


def blank_last(column) -> list[ColumnElement]:
    """A figure in order, those without one after them (before them, sorted the other way)."""
    return [case((column.is_(None), 1), else_=0), column]
