"""The year's annual-report tables: what the printable page and the Word document both say.

Every figure comes from services/delivery.py and services/figures.py, so the report says what the
overview says; only approved progress text is published. Every sentence the report prints about a
project or the year is built here, once, so the page and the .docx cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app

from ..models import FinancialYear, MonitoringReturn, Project
from ..models.vocabulary import COMBINE_LATEST, QUARTERS
from ..money import format_pence
from ..quantities import format_quantity
from . import word
from .delivery import ProjectDelivery, year_delivery
from .disclosure import Cell, PublishedFigures, publish_all, suppression_note
from .exports import xml_safe
from .figures import StreamFigures, stream_figures

if TYPE_CHECKING:  # python-docx is imported only when a document is written
    from docx.document import Document as WordDocument

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

    delivery: ProjectDelivery
    progress: list[tuple[int, str]]
    notes: list[str]
    has_reported: bool  # a return of the project is submitted or approved
    # The outputs as published: small counts of people hidden by services/disclosure.py.
    published: list[PublishedFigures] = field(default_factory=list)

    @property
    def project(self) -> Project:
        return self.delivery.project

    @property
    def outputs_note(self) -> str | None:
        return None if self.delivery.measures else NO_MEASURES

    @property
    def small_number_note(self) -> str | None:
        """Said under the outputs table when it hides a small count of people, and why."""
        return suppression_note(self.published) if self.shows_outputs else None

    @property
    def shows_outputs(self) -> bool:
        """An outputs table only when a figure can be in it: a table of blanks tells the reader nothing."""
        return self.has_reported and bool(self.delivery.measures)


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
    year: FinancialYear
    partnership: str
    streams: list[StreamSection]

    @property
    def projects(self) -> list[ProjectReport]:
        return [entry for section in self.streams for entry in section.projects]

    @property
    def has_provisional(self) -> bool:
        return any(any(figures.provisional) for entry in self.projects for figures in entry.delivery.measures)

    @property
    def provisional_note(self) -> str | None:
        return PROVISIONAL_NOTE if self.has_provisional else None

    @property
    def no_returns_warning(self) -> str | None:
        """Said at the top when the year has awards but not one submitted or approved return."""
        if not self.projects or any(entry.has_reported for entry in self.projects):
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


def project_report(delivery: ProjectDelivery) -> ProjectReport:
    """Approved progress by quarter, and a sentence for each reported quarter whose progress is not published."""
    closed = delivery.project.year.is_closed
    published = publish_all(delivery.measures)
    returns = [delivery.returns[quarter] for quarter in QUARTERS if quarter in delivery.returns]
    if not any(mreturn.is_reported for mreturn in returns):
        nothing = NOTHING_REPORTED_CLOSED if closed else NOTHING_REPORTED
        return ProjectReport(delivery, progress=[], notes=[nothing], has_reported=False, published=published)
    approved = [mreturn for mreturn in returns if mreturn.is_approved]
    progress = [(mreturn.quarter, (mreturn.progress or "").strip()) for mreturn in approved if _has_progress(mreturn)]
    notes = []
    if silent := [mreturn.quarter for mreturn in approved if not _has_progress(mreturn)]:
        notes.append(_no_progress_sentence(silent))
    if awaiting := [mreturn.quarter for mreturn in returns if mreturn.is_provisional]:
        notes.append(_awaiting_sentence(awaiting, closed=closed))
    return ProjectReport(delivery, progress=progress, notes=notes, has_reported=True, published=published)


def build_annual_report(year: FinancialYear) -> AnnualReport:
    """Each funding stream with its awards in the order they were agreed (as the published table lists them)."""
    sections = {figures.stream.id: StreamSection(figures) for figures in stream_figures(year)}
    for delivery in year_delivery(year):  # ordered by project id: the order the awards were set up in
        section = sections.get(delivery.project.funding_stream_id)
        if section is not None:
            section.projects.append(project_report(delivery))
    return AnnualReport(year=year, partnership=current_app.config["PARTNERSHIP_NAME"], streams=list(sections.values()))


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
