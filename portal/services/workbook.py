"""A year's set-up as an Excel workbook: downloaded from the portal, changed, and uploaded again.

The workbook is read into the same structure as the year file's YAML, then checked and written by the year
import's own `validate` and `apply`: the whole workbook is checked first, nothing is written when anything is
wrong, and each problem names its sheet, row and column. Rows are matched by natural key (a stream's name, a
project's organisation and name, a measure's name within its project), so uploading the workbook as it was
downloaded changes nothing. Organisations are not in it: they belong to no one year, and are kept on the
administrator's pages; a project names one by its short name.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..calendar import parse_year_label
from ..extensions import db
from ..models import FinancialYear, FundingStream, Priority, Project, User
from ..models.vocabulary import DECIMAL, WHOLE, WORKBOOK_MAX_PARTS, WORKBOOK_MAX_UNPACKED_BYTES
from ..quantities import plain_quantity
from . import year_import
from .exports import NOT_XML, amount

MAX_ROWS = 5000  # far beyond any partnership's year: a larger sheet is not a set-up workbook
YES = ("yes", "true", "y")
NO = ("no", "false", "n")


@dataclass(frozen=True)
class Column:
    header: str
    field: str  # the year file's name for it ("quarterly_targets[0]" for Q1's target)
    kind: str = "text"  # text, money, quantity, whole, flag, precision, actions
    width: int = 20
    required: bool = False  # the column must be on the sheet


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: tuple[Column, ...]
    about: str

    def column(self, name: str) -> tuple[int, Column] | None:
        """The column (1-based) of a field of the year file (the first of a list's columns, for the whole list),
        or None when the sheet has no such column."""
        numbered = list(enumerate(self.columns, start=1))
        return next(((i, c) for i, c in numbered if c.field == name), None) or next(
            ((i, c) for i, c in numbered if c.field.startswith((f"{name} ", f"{name}["))), None
        )


YEAR = Sheet(
    "Year",
    (
        Column("Financial year", "financial_year", required=True, width=16),
        Column("Days after quarter end returns are due", "return_due_days", "whole", width=22, required=True),
        Column("Illustrative", "illustrative", "flag", width=12),
        Column("Illustrative note", "illustrative_note", width=50),
    ),
    "One row: the year, like 2024-25, and how many days after each quarter ends its returns are due (0 to 120).",
)
STREAMS = Sheet(
    "Streams",
    (
        Column("Name", "name", required=True, width=36),
        Column("Funder", "funder", required=True, width=36),
        Column("Amount", "amount", "money", required=True, width=14),
    ),
    "One row per funding stream: a pot of money for the year from one funder. Amounts in pounds, like 34218.00.",
)
PRIORITIES = Sheet(
    "Priorities",
    (Column("Rank", "rank", "whole", required=True, width=8), Column("Name", "name", required=True, width=60)),
    "One row per strategic priority, ranked 1, 2, 3 …",
)
PROJECTS = Sheet(
    "Projects",
    (
        Column("Organisation", "organisation", required=True, width=16),
        Column("Name", "name", required=True, width=50),
        Column("Funding stream", "funding_stream", required=True, width=30),
        Column("Amount", "amount", "money", required=True, width=14),
        Column("Priority", "priority", width=40),
        Column("Actions", "actions", "actions", width=14),
        Column("Description", "description", width=50),
        *(Column(f"Q{q} planned spend", f"spend_profile Q{q}", "money", width=12) for q in range(1, 5)),
    ),
    "One row per project: the organisation's short name (as on the administration pages), the project's name, "
    "its funding stream and award, its priority and the action-plan references it delivers, like 3.2, 3.5. "
    "Planned spend is optional: for every quarter or for none, adding up to the award.",
)
MEASURES = Sheet(
    "Measures",
    (
        Column("Organisation", "organisation", required=True, width=16),
        Column("Project", "project", required=True, width=40),
        Column("Name", "name", required=True, width=30),
        Column("Unit", "unit", required=True, width=12),
        Column("Definition", "definition", width=50),
        Column("Combine", "combine", width=10),
        Column("Whole or decimal", "decimals", "precision", width=12),
        Column("Annual target", "annual_target", "quantity", width=12),
        *(Column(f"Q{q + 1} target", f"quarterly_targets[{q}]", "quantity", width=10) for q in range(4)),
        Column("Counts people", "counts_people", "flag", width=10),
        Column("Retired", "retired", "flag", width=10),
    ),
    "One row per output measure, under its project's organisation and name. Combine: sum (added up, like "
    "referrals) or latest (the latest quarter's, like open cases). Whole or decimal: whole, or decimal for up to "
    "2 decimal places. Targets are optional; quarterly targets for every quarter or for none. Retired: yes for a "
    "measure no longer asked for in new returns (its figures are kept). Counts people: yes for a count of people, "
    "whose small numbers are not published.",
)
SHEETS = (YEAR, STREAMS, PRIORITIES, PROJECTS, MEASURES)
ABOUT = "About"


class WorkbookError(Exception):
    """The workbook is not valid; nothing was written. Each error names its sheet, row and column."""

    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} problem(s) in the workbook")
        self.errors = errors


# -- writing ------------------------------------------------------------------------------------


def _quantity(value: Decimal | None) -> int | Decimal | None:
    text = plain_quantity(value)
    return int(text) if text.isdigit() else (Decimal(text) if text else None)


def _year_rows(year: FinancialYear) -> dict[Sheet, list[list[Any]]]:
    projects = list(
        db.session.scalars(
            select(Project)
            .where(Project.year_id == year.id)
            .options(
                joinedload(Project.organisation),
                joinedload(Project.funding_stream),
                joinedload(Project.priority),
                selectinload(Project.measures),
            )
        ).unique()
    )
    projects.sort(key=lambda project: (project.organisation.short_name.lower(), project.name.lower()))
    streams = db.session.scalars(select(FundingStream).where(FundingStream.year_id == year.id).order_by("name"))
    priorities = db.session.scalars(select(Priority).where(Priority.year_id == year.id).order_by(Priority.rank))
    return {
        YEAR: [[year.label, year.return_due_days, "yes" if year.illustrative else "no", year.illustrative_note]],
        STREAMS: [[stream.name, stream.funder, amount(stream.amount_pence)] for stream in streams],
        PRIORITIES: [[number, priority.name] for number, priority in enumerate(priorities, start=1)],
        PROJECTS: [_project_row(project) for project in projects],
        MEASURES: [_measure_row(project, measure) for project in projects for measure in project.measures],
    }


def _project_row(project: Project) -> list[Any]:
    return [
        project.organisation.short_name,
        project.name,
        project.funding_stream.name,
        amount(project.amount_pence),
        project.priority.name if project.priority else None,
        ", ".join(project.actions or []),
        project.description,
        *(amount(pence) for pence in (project.spend_profile or [])),
    ]


def _measure_row(project: Project, measure) -> list[Any]:
    return [
        project.organisation.short_name,
        project.name,
        measure.name,
        measure.unit,
        measure.definition,
        measure.combine,
        DECIMAL if measure.decimals else WHOLE,
        _quantity(measure.annual_target),
        *(_quantity(target) for target in measure.quarterly_targets),
        "yes" if measure.counts_people else "no",
        "yes" if measure.is_retired else "no",
    ]


def _write_sheet(sheet, spec: Sheet, rows: list[list[Any]]) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet.append([column.header for column in spec.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row_number, row in enumerate(rows, start=2):
        for column_number, (column, value) in enumerate(zip(spec.columns, row, strict=False), start=1):
            if value is None or value == "":
                continue
            cell = sheet.cell(row=row_number, column=column_number)
            cell.value = NOT_XML.sub("", value) if isinstance(value, str) else value
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula, whatever it begins with
            elif column.kind == "money":
                cell.number_format = "0.00"
    for number, column in enumerate(spec.columns, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column.width
    sheet.freeze_panes = "A2"


def year_workbook(year: FinancialYear) -> bytes:
    """The year's whole set-up: an About sheet, then one sheet per kind."""
    from openpyxl import Workbook

    workbook = Workbook()
    about = workbook.create_sheet(ABOUT, 0)
    workbook.remove(workbook.worksheets[1])  # the new workbook's own empty sheet
    about.append([f"The set-up of the {year.label} financial year. Change it and upload it on the set-up page."])
    about.append(["Rows are matched by name: renaming a row adds a new one. Nothing is deleted by an upload."])
    for spec in SHEETS:
        about.append([f"{spec.title}: {spec.about}"])
    about.column_dimensions["A"].width = 140
    for spec, rows in _year_rows(year).items():
        _write_sheet(workbook.create_sheet(spec.title), spec, rows)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# -- reading ------------------------------------------------------------------------------------


@dataclass
class Place:
    """Where an entry of the year file came from: a row of a sheet."""

    sheet: Sheet
    row: int


@dataclass
class Reading:
    """The workbook as the year file's structure, where each entry came from, and what could not be read."""

    data: dict[str, Any] = field(default_factory=dict)
    places: dict[tuple[str | int, ...], Place] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def error(self, sheet: Sheet, row: int | None, column: int | None, message: str) -> None:
        self.errors.append(_at(sheet, row, column) + message)


def _at(sheet: Sheet, row: int | None, column: int | None) -> str:
    from openpyxl.utils import get_column_letter

    where = sheet.title
    if row is not None:
        where += f", row {row}"
    if column is not None:
        where += f", column {get_column_letter(column)} ({sheet.columns[column - 1].header})"
    return where + ": "


def _cell(value: Any) -> Any:
    """A cell as the year file would hold it: numbers exact (Excel's 800.0 is 800), text stripped, blank None."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else Decimal(repr(value))
    if isinstance(value, str):
        return value.strip() or None
    return value if isinstance(value, (int, Decimal)) else str(value)


FLAG_WORDS = {**dict.fromkeys(YES, True), **dict.fromkeys(NO, False)}
PRECISION_WORDS = {WHOLE: False, DECIMAL: True}


def _word(value: Any, kind: str) -> tuple[bool, bool | None]:
    """(understood, meaning) of a yes-or-no cell (Excel's TRUE and FALSE too) or a whole-or-decimal one."""
    if value is None:
        return True, None
    if isinstance(value, bool):
        return kind == "flag", value
    meaning = (FLAG_WORDS if kind == "flag" else PRECISION_WORDS).get(str(value).lower())
    return meaning is not None, meaning


def _convert(reading: Reading, spec: Sheet, row: int, number: int, column: Column, value: Any) -> Any:
    """A cell's value for the year file; a word that is not understood is a problem of the workbook's own."""
    if column.kind in ("flag", "precision"):
        ok, meaning = _word(value, column.kind)
        if not ok:
            reading.error(
                spec, row, number, "must be yes or no" if column.kind == "flag" else "must be whole or decimal"
            )
        return meaning
    if column.kind == "whole" and isinstance(value, str) and value.isdigit():
        return int(value)
    if column.kind == "actions":
        if value is None:
            return []
        return [part.strip() for part in re.split(r"[,;]", str(value)) if part.strip()]
    return value


def _headers(reading: Reading, spec: Sheet, header: Iterable[Any]) -> dict[int, tuple[int, Column]] | None:
    """Each position of the sheet's columns → (the column's number in the spec, the column)."""
    found: dict[int, tuple[int, Column]] = {}
    by_header = {column.header.lower(): (number, column) for number, column in enumerate(spec.columns, start=1)}
    for position, text in enumerate(header):
        name = str(_cell(text) or "").lower()
        if not name:
            continue
        if name not in by_header:
            reading.errors.append(f"{spec.title}, row 1: '{text}' is not a column of this sheet")
        else:
            found[position] = by_header[name]
    missing = [column for column in spec.columns if column.required and column not in [c for _, c in found.values()]]
    for column in missing:
        reading.errors.append(f"{spec.title}, row 1: the column '{column.header}' is missing")
    return None if missing else found


def _rows(reading: Reading, workbook: Any, spec: Sheet) -> list[tuple[int, dict[str, Any]]]:
    """The sheet's filled rows as (row number, {field: value})."""
    if spec.title not in workbook.sheetnames:
        reading.errors.append(f"The workbook has no '{spec.title}' sheet")
        return []
    rows = workbook[spec.title].iter_rows(values_only=True)
    columns = _headers(reading, spec, next(rows, ()))
    found: list[tuple[int, dict[str, Any]]] = []
    for row_number, cells in enumerate(rows, start=2):
        if row_number > MAX_ROWS:
            reading.errors.append(f"{spec.title}: has more than {MAX_ROWS - 1} rows")
            break
        values = {position: _cell(value) for position, value in enumerate(cells)}
        if columns is None or all(value is None for value in values.values()):
            continue
        entry = {
            column.field: _convert(reading, spec, row_number, number, column, values.get(position))
            for position, (number, column) in columns.items()
        }
        found.append((row_number, entry))
    return found


def _read_year(reading: Reading, workbook: Any) -> None:
    rows = _rows(reading, workbook, YEAR)
    if not rows:
        reading.errors.append("Year, row 2: enter the financial year, like 2024-25")
        return
    for row_number, _ in rows[1:]:
        reading.error(YEAR, row_number, None, "the sheet has one row, for one year")
    entry = rows[0][1]
    reading.places[("file",)] = Place(YEAR, rows[0][0])
    for name in ("financial_year", "return_due_days", "illustrative", "illustrative_note"):
        reading.places[(name,)] = Place(YEAR, rows[0][0])
        if entry.get(name) is not None:
            reading.data[name] = entry[name]
    if isinstance(reading.data.get("financial_year"), (int, Decimal)):
        reading.data["financial_year"] = str(reading.data["financial_year"])


def _read_list(reading: Reading, rows: list[tuple[int, dict[str, Any]]], spec: Sheet, key: str) -> list[dict]:
    entries = []
    for index, (row_number, entry) in enumerate(rows):
        reading.places[(key, index)] = Place(spec, row_number)
        profile = [entry.pop(f"spend_profile Q{q}", None) for q in range(1, 5)]
        found = {name: value for name, value in entry.items() if value is not None}
        if any(value is not None for value in profile):
            found["spend_profile"] = profile
        entries.append(found)
    return entries


def _read_priorities(reading: Reading, workbook: Any) -> list[Any]:
    ranked: list[tuple[int, int, Any]] = []
    for row_number, entry in _rows(reading, workbook, PRIORITIES):
        rank = entry.get("rank")
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            reading.error(PRIORITIES, row_number, 1, "must be a whole number from 1")
        elif any(rank == other for other, _, _ in ranked):
            reading.error(PRIORITIES, row_number, 1, f"rank {rank} is given twice")
        else:
            ranked.append((rank, row_number, entry.get("name")))
    ranked.sort()
    for index, (_, row_number, _) in enumerate(ranked):
        reading.places[("priorities", index)] = Place(PRIORITIES, row_number)
    return [name for _, _, name in ranked]


def _read_measures(reading: Reading, workbook: Any, projects: list[dict]) -> None:
    """Each measure row under its project (by organisation and name), in the sheet's order."""
    index = {
        (str(project.get("organisation")), str(project.get("name"))): number for number, project in enumerate(projects)
    }
    for row_number, entry in _rows(reading, workbook, MEASURES):
        key = (str(entry.pop("organisation", None)), str(entry.pop("project", None)))
        number = index.get(key)
        if number is None:
            reading.error(MEASURES, row_number, 2, f"'{key[1]}' of {key[0]} is not a project on the Projects sheet")
            continue
        targets = [entry.pop(f"quarterly_targets[{q}]", None) for q in range(4)]
        measure = {name: value for name, value in entry.items() if value is not None}
        if any(target is not None for target in targets):
            measure["quarterly_targets"] = targets
        measures = projects[number].setdefault("measures", [])
        reading.places[("projects", number, "measures", len(measures))] = Place(MEASURES, row_number)
        measures.append(measure)


def _unpacks_too_large(content: bytes) -> bool:
    """Whether the workbook's parts add up to more than a set-up workbook could need (a zip bomb). The sizes are
    those the file declares: Python's zipfile stops reading a part at its declared size, so they cannot lie."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False  # not a zip file at all: openpyxl says so below
    return len(parts) > WORKBOOK_MAX_PARTS or sum(part.file_size for part in parts) > WORKBOOK_MAX_UNPACKED_BYTES


def read_workbook(content: bytes) -> Reading:
    """The workbook as the year file's structure, with where each entry came from; `errors` are what could
    not be read at all (a missing sheet or column, a word not understood)."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    reading = Reading()
    if _unpacks_too_large(content):
        reading.errors.append(
            f"The file unpacks to more than {WORKBOOK_MAX_UNPACKED_BYTES // (1024 * 1024)} MB: a set-up workbook is "
            "much smaller. Download the set-up workbook and use that"
        )
        return reading
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        reading.errors.append("The file is not an Excel workbook (.xlsx): download the set-up workbook and use that")
        return reading
    try:
        _read_year(reading, workbook)
        reading.data["funding_streams"] = _read_list(
            reading, _rows(reading, workbook, STREAMS), STREAMS, "funding_streams"
        )
        reading.data["priorities"] = _read_priorities(reading, workbook)
        projects = _read_list(reading, _rows(reading, workbook, PROJECTS), PROJECTS, "projects")
        _read_measures(reading, workbook, projects)
        reading.data["projects"] = projects
    finally:
        workbook.close()
    return reading


# -- checking and writing -----------------------------------------------------------------------


def _located(reading: Reading, problem: year_import.Problem) -> str:
    """A problem the year import found, said as a place in the workbook."""
    place = reading.places.get(problem.path)
    if place is None:
        title = {"funding_streams": STREAMS, "priorities": PRIORITIES, "projects": PROJECTS}.get(str(problem.path[0]))
        return f"{(title or YEAR).title}: {problem.message}" if problem.path else problem.message
    field_name = problem.field or (problem.path[0] if problem.path and len(problem.path) == 1 else None)
    if problem.path and problem.path[0] == "priorities":
        field_name = "name"
    found = place.sheet.column(str(field_name)) if field_name else None
    if found is None:
        return _at(place.sheet, place.row, None) + problem.message
    return _at(place.sheet, place.row, found[0]) + (problem.detail if problem.field else problem.message)


def check(year: FinancialYear, content: bytes) -> year_import.ImportPlan:
    """Read and check the whole workbook for this year; raise WorkbookError naming every problem's place."""
    reading = read_workbook(content)
    errors = list(reading.errors)
    label = reading.data.get("financial_year")
    if label is not None and parse_year_label(str(label)) not in (None, year.start_year):
        place = reading.places[("financial_year",)]
        errors.append(_at(YEAR, place.row, 1) + f"this workbook is for {label}, not {year.label}")
    try:
        plan = year_import.validate(reading.data)
    except year_import.YearImportError as error:
        errors += [_located(reading, problem).replace("in this file", "in this workbook") for problem in error.problems]
    if errors:
        raise WorkbookError(list(dict.fromkeys(errors)))
    return plan


def upload(year: FinancialYear, content: bytes, *, by: User | None) -> year_import.ImportSummary:
    """Check the whole workbook, then write it by natural key; the caller commits. Nothing when unchanged."""
    return year_import.apply(check(year, content), actor=by, source="the set-up workbook")
