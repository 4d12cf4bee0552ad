"""What the annual report says of each project and of the year, read as a reader reads it: page and .docx alike.

Each case is rendered twice, as the printable page and as the Word document, and both are reduced to the
same list of lines (headings, paragraphs and a marker for each table), so one expected list checks both.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser

import docx
import pytest
from docx.table import Table
from docx.text.paragraph import Paragraph
from sqlalchemy import select

from portal.extensions import db
from portal.models import MonitoringReturn, Project, User
from portal.models.monitoring_return import MeasureValue
from portal.services import demo
from portal.services.annual_report import quarter_list

STREAM = "PCC Crime Reduction Grant"
AWARD = "Award £10,000.00 from the PCC Crime Reduction Grant."
OUTPUTS = "[outputs table]"
FUNDING = "[funding table]"
PROGRESS = "Progress"
NOTHING = "Nothing has been reported for this project yet."
NO_MEASURES = "No output measures have been agreed for this project."
OLD_SENTENCE = "No approved return"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCKS = {"h1", "h2", "h3", "h4", "p"}


# -- reading the page and the document as lines ----------------------------------------------------


class _ReportLines(HTMLParser):
    """The report's printed part as lines: what a sighted reader sees, without the no-print navigation."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []
        self._hidden: list[bool] = []  # per open element: is its text left out?
        self._text: list[str] | None = None
        self._text_depth = 0
        self._in_report = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        self._in_report = self._in_report or "portal-report" in classes
        if tag in VOID:
            return
        hidden = bool({"portal-no-print", "govuk-visually-hidden"} & classes or attributes.get("aria-hidden"))
        hidden = hidden or (tag == "dialog" and "open" not in attributes)  # a closed dialog is not shown
        self._hidden.append(hidden or (bool(self._hidden) and self._hidden[-1]))
        if not self._in_report or self._hidden[-1] or self._text is not None:
            return
        if tag == "table":
            self.lines.append(f"[{attributes.get('data-table')} table]")
        elif tag in BLOCKS or "govuk-warning-text__text" in classes:
            self._text, self._text_depth = [], len(self._hidden)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self._text is not None and len(self._hidden) == self._text_depth:
            self.lines.append(" ".join("".join(self._text).split()))
            self._text = None
        self._hidden.pop()

    def handle_data(self, data):
        if self._text is not None and not self._hidden[-1]:
            self._text.append(data)


def page_lines(html: str) -> list[str]:
    parser = _ReportLines()
    parser.feed(html)
    return parser.lines


def docx_lines(data: bytes) -> list[str]:
    """The document's paragraphs and tables in order; a table is named by its first header cell."""
    document = docx.Document(io.BytesIO(data))
    kinds = {"Organisation": FUNDING, "Measure": OUTPUTS}
    lines = []
    for element in document.element.body.iterchildren():
        if element.tag.endswith("}p") and (text := Paragraph(element, document).text):
            lines.append(" ".join(text.split()))
        elif element.tag.endswith("}tbl"):
            lines.append(kinds[Table(element, document).rows[0].cells[0].text])
    return lines


def by_project(lines: list[str], headings: list[str]) -> dict[str, list[str]]:
    """Each project's lines after its heading, up to the next project's heading (headings in report order)."""
    starts = [lines.index(heading) for heading in headings]
    ends = [*starts[1:], len(lines)]
    return {heading: lines[start + 1 : end] for heading, start, end in zip(headings, starts, ends, strict=True)}


def top_lines(lines: list[str]) -> list[str]:
    """The title and what is said before the first funding stream's heading."""
    return lines[: lines.index(STREAM)]


def both(client, label: str) -> dict[str, list[str]]:
    """The report of a year as lines, from the page and from the Word document."""
    page = client.get(f"/csu/{label}/annual-report")
    document = client.get(f"/csu/{label}/annual-report.docx")
    assert page.status_code == document.status_code == 200
    return {"page": page_lines(page.text), "docx": docx_lines(document.data)}


def assert_no_wrong_sentence(lines: list[str]) -> None:
    assert not [line for line in lines if OLD_SENTENCE in line]


# -- hand-made years --------------------------------------------------------------------------------


def add_return(project: Project, quarter: int, status: str, progress: str | None = None, value: int = 5) -> None:
    mreturn = MonitoringReturn(project=project, quarter=quarter, status=status, progress=progress)
    db.session.add(mreturn)
    for measure in project.measures:
        db.session.add(MeasureValue(monitoring_return=mreturn, measure=measure, value=Decimal(value)))
    db.session.commit()


@pytest.fixture
def year_of(make_year, make_stream, make_org, make_project, make_user, client, login):
    """A year whose projects are named by the case they show, with the CSU signed in."""
    login(client, make_user())

    def make(start_year: int, cases: dict[str, list[tuple]], *, closed: bool = False) -> dict[str, str]:
        year = make_year(start_year, closed_at=datetime(start_year + 1, 5, 1, tzinfo=UTC) if closed else None)
        stream = make_stream(year)
        headings = {}
        for number, (case, returns) in enumerate(cases.items()):
            measures = [] if case.startswith("no measures") else [{"name": "Sessions", "annual_target": 40}]
            organisation = make_org(f"ORG{number}", f"Organisation {number}")
            project = make_project(organisation, stream, case, measures=measures)
            for quarter, status, *progress in returns:
                add_return(project, quarter, status, *progress)
            headings[case] = f"Organisation {number}: {case}"
        return headings

    return make


# -- each project says what is true of it -----------------------------------------------------------

# Each project of one year, named by its case: the returns it has, as (quarter, status, progress text).
CASES: dict[str, list[tuple]] = {
    "Approved with progress": [(1, "approved", "Ran four sessions in schools.")],
    "Submitted only": [(1, "draft", "Draft words."), (2, "submitted", "Submitted words.")],
    "Two submitted": [(1, "submitted", "First words."), (2, "submitted", "Second words.")],
    "Approved without progress": [(1, "approved")],
    "Two approved without progress": [(1, "approved"), (2, "approved", "  \n ")],
    "Approved, silent and submitted": [
        (1, "approved", "Opened the hub."),
        (2, "approved"),
        (3, "submitted", "Submitted words."),
        (4, "changes_requested", "Sent back words."),
    ],
    "No returns": [],
    "A draft only": [(1, "draft", "Draft words.")],
    "no measures, nothing reported": [],
    "no measures, approved": [(1, "approved", "Met the team.")],
}
EXPECTED = {
    "Approved with progress": [AWARD, OUTPUTS, PROGRESS, "Q1: Ran four sessions in schools."],
    "Submitted only": [AWARD, OUTPUTS, PROGRESS, "Q2 submitted, awaiting approval."],
    "Two submitted": [AWARD, OUTPUTS, PROGRESS, "Q1 and Q2 submitted, awaiting approval."],
    "Approved without progress": [AWARD, OUTPUTS, PROGRESS, "The approved Q1 return has no progress text."],
    "Two approved without progress": [
        AWARD,
        OUTPUTS,
        PROGRESS,
        "The approved Q1 and Q2 returns have no progress text.",
    ],
    "Approved, silent and submitted": [
        AWARD,
        OUTPUTS,
        PROGRESS,
        "Q1: Opened the hub.",
        "The approved Q2 return has no progress text.",
        "Q3 submitted, awaiting approval.",
    ],
    "No returns": [AWARD, NOTHING],
    "A draft only": [AWARD, NOTHING],
    "no measures, nothing reported": [AWARD, NO_MEASURES, NOTHING],
    "no measures, approved": [AWARD, NO_MEASURES, PROGRESS, "Q1: Met the team."],
}


@pytest.mark.parametrize("case", CASES)
def test_each_project_says_what_is_true_of_it(year_of, client, case):
    headings = year_of(2022, CASES)

    for source, lines in both(client, "2022-23").items():
        assert by_project(lines, list(headings.values()))[headings[case]] == EXPECTED[case], source
        assert_no_wrong_sentence(lines)
        # Some returns are in, so the year is not flagged.
        assert top_lines(lines) == ["Annual report tables 2022-23"], source


def test_page_and_document_say_the_same_of_every_project(year_of, client):
    year_of(2022, CASES)

    lines = both(client, "2022-23")
    page, document = lines["page"], lines["docx"]
    assert page[page.index("Projects") :] == document[document.index("Projects") :]
    assert top_lines(page) == top_lines(document)


def test_a_project_with_nothing_reported_has_no_table_of_blanks(year_of, client):
    headings = year_of(2022, {"Reported": [(1, "approved", "Words.")], "Silent": []})

    for source, lines in both(client, "2022-23").items():
        assert lines.count(OUTPUTS) == 1, source
        assert by_project(lines, list(headings.values()))[headings["Silent"]] == [AWARD, NOTHING], source


# -- a year with no returns -------------------------------------------------------------------------

NO_RETURNS_2022_23 = "No returns have been submitted for 2022-23 yet: the tables below show awards only."


def test_a_year_with_no_returns_is_flagged_and_prints_no_empty_tables(year_of, client):
    cases = {"Untouched": [], "Drafted": [(1, "draft", "Words.")], "Sent back": [(1, "changes_requested", "Words.")]}
    headings = year_of(2022, cases)

    for source, lines in both(client, "2022-23").items():
        assert top_lines(lines) == ["Annual report tables 2022-23", NO_RETURNS_2022_23], source
        # The PCC funding table stays; no project prints an outputs table, a progress heading or a footnote.
        assert lines.count(FUNDING) == 1, source
        assert OUTPUTS not in lines and PROGRESS not in lines, source
        assert not [line for line in lines if line.startswith("Figures marked *")], source
        assert set(map(tuple, by_project(lines, list(headings.values())).values())) == {(AWARD, NOTHING)}, source
        assert_no_wrong_sentence(lines)


def test_one_submitted_return_is_enough_not_to_flag_the_year(year_of, client):
    year_of(2022, {"Submitted": [(3, "submitted", "Words.")], "Untouched": []})

    for source, lines in both(client, "2022-23").items():
        assert top_lines(lines) == ["Annual report tables 2022-23"], source
        assert NO_RETURNS_2022_23 not in lines, source


def test_a_year_with_no_awards_is_not_flagged(make_year, make_stream, make_user, client, login):
    make_stream(make_year(2022))
    login(client, make_user())

    for source, lines in both(client, "2022-23").items():
        assert top_lines(lines) == ["Annual report tables 2022-23"], source


def test_a_closed_year_says_what_was_never_reported(year_of, client):
    headings = year_of(2022, {"Untouched": []}, closed=True)

    for source, lines in both(client, "2022-23").items():
        assert top_lines(lines) == [
            "Annual report tables 2022-23",
            "No returns were submitted for 2022-23 before it was closed: the tables below show awards only.",
        ], source
        assert by_project(lines, list(headings.values()))[headings["Untouched"]] == [
            AWARD,
            "Nothing was reported for this project before the year was closed.",
        ], source
        assert NOTHING not in lines and NO_RETURNS_2022_23 not in lines, source


def test_a_closed_year_does_not_say_a_return_awaits_approval(year_of, client):
    headings = year_of(2022, {"Late": [(4, "submitted", "Words.")]}, closed=True)

    for source, lines in both(client, "2022-23").items():
        assert by_project(lines, list(headings.values()))[headings["Late"]] == [
            AWARD,
            OUTPUTS,
            PROGRESS,
            "Q4 submitted, not approved before the year was closed.",
        ], source
        assert not [line for line in lines if "awaiting approval" in line], source


# -- the demo ---------------------------------------------------------------------------------------

DEMO_2021_22 = [
    "Domestic Abuse Volunteer Support Services: Support for Medium & High Risk Victims - Domestic Abuse",
    "Kenward Trust: Youth Diversionary & Targeted Youth Project against substance misuse",
    "Kent Community Domestic Abuse Perpetrators Programme: Support males through the CDAP programme",
    "Sevenoaks Community Safety Unit: CSU Crime Reduction initiatives",
    "Protection Against Stalking: Training sessions on Cyber crime and stalking",
]
DAVSS_2020 = "Domestic Abuse Volunteer Support Services: Support for Medium & High Risk Victims - Domestic Abuse"
PAS_2020 = "Protection Against Stalking: Stalking advocacy support service"


@pytest.fixture
def demo_client(app, client, login):
    demo.load("some-password-123")
    db.session.commit()
    login(client, db.session.scalar(select(User).where(User.email == "csu@demo.test")))
    return client


def test_the_demo_2021_22_has_awards_but_no_returns(demo_client):
    # The demo closes its past years at load, so the report speaks of a closed year.
    nothing = "Nothing was reported for this project before the year was closed."
    for source, lines in both(demo_client, "2021-22").items():
        assert top_lines(lines) == [
            "Annual report tables 2021-22",
            "No returns were submitted for 2021-22 before it was closed: the tables below show awards only.",
        ], source
        assert list(by_project(lines, DEMO_2021_22).values()) == [
            ["Award £10,000.00 from the PCC Crime Reduction Grant.", nothing],
            ["Award £10,000.00 from the PCC Crime Reduction Grant.", nothing],
            ["Award £1,500.00 from the PCC Crime Reduction Grant.", nothing],
            ["Award £312.00 from the PCC Crime Reduction Grant.", nothing],
            ["Award £1,000.00 from the PCC Crime Reduction Grant.", nothing],
        ], source
        assert OUTPUTS not in lines, source


def test_the_demo_2020_21_approved_returns_carry_figures_but_no_progress_text(demo_client):
    for source, lines in both(demo_client, "2020-21").items():
        projects = by_project(lines, [DAVSS_2020, PAS_2020])
        assert projects[DAVSS_2020][-2:] == [PROGRESS, "The approved Q1 and Q2 returns have no progress text."]
        assert projects[PAS_2020][-2:] == [
            PROGRESS,
            "The approved Q1, Q2, Q3 and Q4 returns have no progress text.",
        ], source
        assert lines.count(OUTPUTS) == 2, source
        assert_no_wrong_sentence(lines)


def test_quarters_are_listed_as_a_reader_says_them():
    assert quarter_list([2]) == "Q2"
    assert quarter_list([1, 2]) == "Q1 and Q2"
    assert quarter_list([1, 3, 4]) == "Q1, Q3 and Q4"
