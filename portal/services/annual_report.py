"""The year's annual-report tables: what the printable page and the Word document both say.

Every figure comes from services/delivery.py and services/figures.py, so the report says what the
overview says; only approved progress text is published. Every sentence the report prints about a
project or the year is built here, once, so the page and the .docx cannot disagree.

The page shows the report a page of projects at a time (`PER_PAGE`, in report order: by funding stream, then in
the order the awards were agreed), each with its stream's section, so a page costs the same few queries and
kilobytes however many projects the year has; the .docx holds the whole year.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import aliased, contains_eager, joinedload

from ..extensions import db
from ..models import FinancialYear, FundingStream, MonitoringReturn, Project
from ..models.vocabulary import COMBINE_LATEST, QUARTERS
from ..money import format_pence
from ..pagination import PageOf
from ..quantities import format_quantity
from . import word
from .delivery import ProjectFigures, projects_figures
from .disclosure import Cell, PublishedFigures, publish_all, suppression_note
from .exports import xml_safe
from .figures import StreamFigures, stream_figures

if TYPE_CHECKING:  # python-docx is imported only when a document is written
    from docx.document import Document as WordDocument

PER_PAGE = 15  # projects a page: up to about 17 KB each with a year of progress text and a dozen measures
MEASURE_HEADERS = ["Measure", "Q1", "Q2", "Q3", "Q4", "Total", "Annual target", "% of target"]


PROVISIONAL_NOTE = "Figures marked * are provisional: submitted, not yet approved."
NO_MEASURES = "No output measures have been agreed for this project."
# What is missing, said as still to come in an open year and as settled once the year is closed.
NOTHING_REPORTED = "Nothing has been reported for this project yet."
NOTHING_REPORTED_CLOSED = "Nothing was reported for this project before the year was closed."


def quarter_list(quarters: Sequence[int]) -> str:
    """Quarters as a reader says them: "Q2", "Q1 and Q2", "Q1, Q2 and Q3"."""
    names = [f"Q{quarter}" for quarter in quarters]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


@dataclass
class ProjectReport:
    """A project as the report tells it: its figures, its approved progress and why any progress is missing.

    `notes` always says something when `progress` is empty, so no project is left without a word.
    """

    figures: ProjectFigures
    progress: list[tuple[int, str]]
    notes: list[str]
    has_reported: bool  # a return of the project is submitted or approved
    # The outputs as published: small counts of people hidden by services/disclosure.py.
    published: list[PublishedFigures] = field(default_factory=list)

    @property
    def project(self) -> Project:
        return self.figures.project

    @property
    def outputs_note(self) -> str | None:
        return None if self.figures.measures else NO_MEASURES

    @property
    def small_number_note(self) -> str | None:
        """Said under the outputs table when it hides a small count of people, and why."""
        return suppression_note(self.published) if self.shows_outputs else None

    @property
    def shows_outputs(self) -> bool:
        """An outputs table only when a figure can be in it: a table of blanks tells the reader nothing."""
        return self.has_reported and bool(self.figures.measures)


@dataclass
class StreamSection:
    figures: StreamFigures
    projects: list[ProjectReport] = field(default_factory=list)

    @property
    def remainder_label(self) -> str:
        return "Over-allocated" if self.figures.over_allocated else "Not allocated"

    @property
    def remainder_pence(self) -> int:
        return abs(self.figures.unallocated_pence)


@dataclass
class AnnualReport:
    """The report, or one page of it: the page's projects, each under its funding stream's section."""

    year: FinancialYear
    partnership: str
    streams: list[StreamSection]
    page: PageOf  # of the year's projects
    any_reported: bool  # a return of the year (on any page) is submitted or approved

    @property
    def projects(self) -> list[ProjectReport]:
        return [entry for section in self.streams for entry in section.projects]

    @property
    def has_provisional(self) -> bool:
        return any(any(figures.provisional) for entry in self.projects for figures in entry.figures.measures)

    @property
    def provisional_note(self) -> str | None:
        return PROVISIONAL_NOTE if self.has_provisional else None

    @property
    def no_returns_warning(self) -> str | None:
        """Said at the top when the year has awards but not one submitted or approved return."""
        if not self.page.matched or self.any_reported:
            return None
        if self.year.is_closed:
            missing = f"No returns were submitted for {self.year.label} before it was closed"
        else:
            missing = f"No returns have been submitted for {self.year.label} yet"
        return f"{missing}: the tables below show awards only."


def _has_progress(mreturn: MonitoringReturn) -> bool:
    return bool(mreturn.progress and mreturn.progress.strip())


def _no_progress_sentence(quarters: list[int]) -> str:
    if len(quarters) == 1:
        return f"The approved {quarter_list(quarters)} return has no progress text."
    return f"The approved {quarter_list(quarters)} returns have no progress text."


def _awaiting_sentence(quarters: list[int], *, closed: bool) -> str:
    if closed:
        return f"{quarter_list(quarters)} submitted, not approved before the year was closed."
    return f"{quarter_list(quarters)} submitted, awaiting approval."


def project_report(figures: ProjectFigures) -> ProjectReport:
    """Approved progress by quarter, and a sentence for each reported quarter whose progress is not published."""
    closed = figures.project.year.is_closed
    published = publish_all(figures.measures)
    returns = [figures.returns[quarter] for quarter in QUARTERS if quarter in figures.returns]
    if not any(mreturn.is_reported for mreturn in returns):
        nothing = NOTHING_REPORTED_CLOSED if closed else NOTHING_REPORTED
        return ProjectReport(figures, progress=[], notes=[nothing], has_reported=False, published=published)
    approved = [mreturn for mreturn in returns if mreturn.is_approved]
    progress = [(mreturn.quarter, (mreturn.progress or "").strip()) for mreturn in approved if _has_progress(mreturn)]
    notes = []
    if silent := [mreturn.quarter for mreturn in approved if not _has_progress(mreturn)]:
        notes.append(_no_progress_sentence(silent))
    if awaiting := [mreturn.quarter for mreturn in returns if mreturn.is_provisional]:
        notes.append(_awaiting_sentence(awaiting, closed=closed))
    return ProjectReport(figures, progress=progress, notes=notes, has_reported=True, published=published)


def _report_projects(year: FinancialYear, page: PageOf) -> tuple[list[Project], bool]:
    """The page's projects in report order (by funding stream as the report lists them, then in the order the
    awards were agreed), and whether any return of the year is reported: one query."""
    other = aliased(Project)
    # From the year's projects to their returns (both indexed): begun from the returns' status instead, SQLite
    # walked every year's reported returns before it reached this year's.
    any_reported = (
        select(other.id)
        .where(
            other.year_id == year.id,
            select(MonitoringReturn.id)
            .where(MonitoringReturn.project_id == other.id, MonitoringReturn.is_reported)
            .exists(),
        )
        .exists()
    )
    rows = db.session.execute(
        select(Project, any_reported.label("any_reported"))
        .join(FundingStream, FundingStream.id == Project.funding_stream_id)
        .where(Project.year_id == year.id, FundingStream.year_id == year.id)
        .options(contains_eager(Project.funding_stream), joinedload(Project.organisation), joinedload(Project.year))
        .order_by(FundingStream.name, FundingStream.id, Project.id)
        .offset(page.offset)
        .limit(page.per_page)
    ).all()
    return [project for project, _ in rows], any(reported for _, reported in rows)


def _report(year: FinancialYear, page_number: int | None) -> AnnualReport:
    streams = stream_figures(year)
    matched = sum(figures.project_count for figures in streams)
    if page_number is None:  # the whole year
        page = PageOf(number=1, matched=matched, per_page=max(matched, 1))
    else:
        page = PageOf.clamped(page_number, matched, PER_PAGE)
    projects, any_reported = _report_projects(year, page)
    by_stream: dict[int, list[ProjectReport]] = {}
    for figures in projects_figures(projects):
        by_stream.setdefault(figures.project.funding_stream_id, []).append(project_report(figures))
    # A stream shows on the pages of its projects; one with none, on the first page.
    sections = [
        StreamSection(figures, by_stream.get(figures.stream.id, []))
        for figures in streams
        if figures.stream.id in by_stream or (figures.project_count == 0 and page.number == 1)
    ]
    partnership = current_app.config["PARTNERSHIP_NAME"]
    return AnnualReport(year=year, partnership=partnership, streams=sections, page=page, any_reported=any_reported)


def build_annual_report(year: FinancialYear) -> AnnualReport:
    """The whole year's report (the .docx): each funding stream with its awards in the order they were agreed (as
    the published table lists them)."""
    return _report(year, None)


def report_page(year: FinancialYear, page_number: int) -> AnnualReport:
    """One page of the report: `PER_PAGE` projects in report order, each under its stream's section. Nine queries."""
    return _report(year, page_number)


def funded_sentence(report: AnnualReport, section: StreamSection) -> str:
    stream = section.figures.stream
    return f"{stream.funder} funded {report.partnership} {format_pence(stream.amount_pence)} in {report.year.label}."


def remainder_sentence(report: AnnualReport, section: StreamSection) -> str:
    total = format_pence(section.figures.stream.amount_pence)
    if section.figures.over_allocated:
        return f"The awards exceed the {total} received by {format_pence(section.remainder_pence)}."
    if section.remainder_pence == 0:
        return f"All of the {total} has been allocated."
    return f"{format_pence(section.remainder_pence)} of the {total} has not been allocated."


def annual_report_document(report: AnnualReport) -> WordDocument:
    """The same content as the page, as a Word document with real tables."""
    title = f"Annual report tables {report.year.label}"
    document = word.new_document(title=title, header=f"{report.partnership} · {title}", author=report.partnership)
    document.add_heading(title, level=0)
    if report.no_returns_warning:
        document.add_paragraph().add_run(report.no_returns_warning).bold = True
    for section in report.streams:
        _add_stream(document, report, section)
    if not report.projects:
        return document
    document.add_heading("Projects", level=1)
    if report.provisional_note:
        document.add_paragraph(report.provisional_note)
    for entry in report.projects:
        _add_project(document, entry)
    return document


def _add_stream(document: WordDocument, report: AnnualReport, section: StreamSection) -> None:
    """A funding stream: who funded it, the awards made from it and what is left."""
    document.add_heading(xml_safe(section.figures.stream.name), level=1)
    document.add_paragraph(xml_safe(funded_sentence(report, section)))
    if section.projects:
        document.add_paragraph("The table below sets out what the Partnership agreed to spend the funding on.")
    word.add_table(
        document,
        ["Organisation", "Project Name", "Amount"],
        [[e.project.organisation.name, e.project.name, format_pence(e.project.amount_pence)] for e in section.projects],
        numeric_from=2,
        footer=[
            ["Total awarded", "", format_pence(section.figures.awarded_pence)],
            [section.remainder_label, "", format_pence(section.remainder_pence)],
        ],
    )
    document.add_paragraph(xml_safe(remainder_sentence(report, section)))


def _add_project(document: WordDocument, entry: ProjectReport) -> None:
    """A project: its award, its outputs by quarter and its approved progress, or what is missing."""
    project = entry.project
    document.add_heading(xml_safe(f"{project.organisation.name}: {project.name}"), level=2)
    document.add_paragraph(
        xml_safe(f"Award {format_pence(project.amount_pence)} from the {project.funding_stream.name}.")
    )
    if entry.outputs_note:
        document.add_paragraph(entry.outputs_note)
    if entry.shows_outputs:
        rows = [_measure_cells(figures) for figures in entry.published]
        word.add_table(document, MEASURE_HEADERS, rows, numeric_from=1)
        if entry.small_number_note:
            document.add_paragraph(entry.small_number_note)
    if entry.has_reported:
        document.add_heading("Progress", level=3)
    for quarter, narrative in entry.progress:
        paragraph = document.add_paragraph()
        paragraph.add_run(f"Q{quarter}: ").bold = True
        paragraph.add_run(xml_safe(narrative))
    for note in entry.notes:
        document.add_paragraph(note)


def _cell(value: Cell) -> str:
    return value if isinstance(value, str) else format_quantity(value)


def _measure_cells(figures: PublishedFigures) -> list[str]:
    """One measure's row of the outputs table as published; a submitted, not yet approved, figure is marked *."""
    quarters = [
        _cell(value) + ("*" if value is not None and provisional else "")
        for value, provisional in zip(figures.quarters, figures.provisional, strict=True)
    ]
    pct = figures.pct_of_target
    return [
        figures.measure.name + (" (latest quarter)" if figures.measure.combine == COMBINE_LATEST else ""),
        *quarters,
        _cell(figures.total),
        format_quantity(figures.measure.annual_target),
        pct if isinstance(pct, str) else (f"{pct}%" if pct is not None else ""),
    ]
