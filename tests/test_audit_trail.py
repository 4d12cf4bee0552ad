"""The audit trail page: filtered by who, what kind of object, one object and UK dates; newest first, a page at
a time in a bounded number of queries; before and after values in words, never a narrative's text; the same
list as CSV, neutralised against formula injection."""

from __future__ import annotations

import ast
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portal.extensions import db
from portal.models import AuditEvent
from portal.models.vocabulary import AUDIT_TEXT_CHANGED, OBJECT_TYPE_LABELS, SYSTEM_ACTOR
from portal.services.audit_trail import CSV_COLUMNS, PER_PAGE

PORTAL = Path(__file__).resolve().parent.parent / "portal"


@pytest.fixture
def csu(client, two_orgs, login):
    login(client, two_orgs["csu"])
    return client


def event(summary: str, at: datetime, *, actor=None, object_type="organisation", object_id=1, details=None, **more):
    found = AuditEvent(
        action=more.pop("action", f"{object_type}.updated"),
        summary=summary,
        at=at,
        actor_id=actor.id if actor else None,
        object_type=object_type,
        object_id=object_id,
        details=details or {},
        **more,
    )
    db.session.add(found)
    return found


def many(count: int, actors: list, *, start: int = 0) -> None:
    base = datetime(2021, 6, 1, 9, 0, tzinfo=UTC)
    for number in range(start, start + count):
        event(f"Event {number:03d}", base + timedelta(minutes=number), actor=actors[number % len(actors)])
    db.session.commit()


def shown(page: str, *summaries: str) -> list[str]:
    return [summary for summary in summaries if summary in page]


# -- filters ------------------------------------------------------------------------------------


@pytest.fixture
def four(two_orgs):
    # 30 June 23:30 and 1 July 00:30 in BST; 15 January in GMT; 31 March 23:59 UTC is 1 April 00:59 BST.
    event("Alpha event", datetime(2021, 6, 30, 22, 30, tzinfo=UTC), actor=two_orgs["admin"], object_id=1)
    event(
        "Bravo event",
        datetime(2021, 6, 30, 23, 30, tzinfo=UTC),
        actor=two_orgs["csu"],
        object_type="project",
        object_id=5,
    )
    event("Charlie event", datetime(2022, 1, 15, 12, 0, tzinfo=UTC), object_id=2)
    event(
        "Delta event",
        datetime(2022, 3, 31, 23, 59, tzinfo=UTC),
        actor=two_orgs["admin"],
        object_type="user",
        object_id=7,
    )
    db.session.commit()
    return ("Alpha event", "Bravo event", "Charlie event", "Delta event")


def date(day: int, month: int, year: int) -> list[str]:
    return [str(day), str(month), str(year)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["Delta event", "Charlie event", "Bravo event", "Alpha event"]),
        ({"actor": "ADMIN"}, ["Delta event", "Alpha event"]),
        ({"actor": "system"}, ["Charlie event"]),
        ({"object_type": "organisation"}, ["Charlie event", "Alpha event"]),
        ({"object_type": "organisation", "object_id": "1"}, ["Alpha event"]),
        ({"object_type": "project", "object_id": "1"}, []),
        ({"date_from": date(1, 7, 2021)}, ["Delta event", "Charlie event", "Bravo event"]),
        ({"date_to": date(30, 6, 2021)}, ["Alpha event"]),
        (
            {"date_from": date(1, 4, 2021), "date_to": date(31, 3, 2022)},
            ["Charlie event", "Bravo event", "Alpha event"],
        ),
        ({"date_from": date(1, 4, 2022), "date_to": date(1, 4, 2022)}, ["Delta event"]),
        ({"actor": "ADMIN", "date_to": ["", "", ""]}, ["Delta event", "Alpha event"]),
    ],
)
def test_filters_by_who_what_one_object_and_uk_dates_newest_first(csu, two_orgs, four, query, expected):
    if query.get("actor") == "ADMIN":
        query = {**query, "actor": str(two_orgs["admin"].id)}
    response = csu.get("/audit/", query_string=query)

    assert response.status_code == 200
    page = response.text
    found = sorted(shown(page, *four), key=page.index)
    assert found == expected
    if not expected:
        assert "No events match these filters." in page


def test_the_page_names_who_acted_and_what_it_was_about(csu, two_orgs, four):
    page = csu.get("/audit/").text
    assert "admin (admin@council.example)" in page
    assert SYSTEM_ACTOR in page
    assert "Organisation 1" in page and "User account 7" in page
    assert "/audit/?object_type=organisation&amp;object_id=1" in page
    assert f"/audit/?actor={two_orgs['admin'].id}" in page
    assert "1 July 2021 at 00:30" in page  # UK time


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"object_id": "abc", "object_type": "organisation"}, "Object number must be a whole number, like 12"),
        ({"object_id": "3"}, "Select the kind of object as well as its number"),
        ({"object_type": "spaceship"}, "Select a kind of object from the list"),
        ({"actor": "999999"}, "Select someone from the list"),
        ({"date_from": date(31, 2, 2021)}, "Date from must be a real date, like 1 4 2021"),
        ({"date_from": ["", "2", "2021"]}, "Date from must be a real date, like 1 4 2021"),
        ({"date_from": date(1, 7, 2021), "date_to": date(30, 6, 2021)}, "Date to must be the same as or after"),
    ],
)
@pytest.mark.parametrize("path", ["/audit/", "/audit/events.csv"])
def test_bad_filters_are_explained_beside_the_field(csu, four, query, message, path):
    response = csu.get(path, query_string=query)

    assert response.status_code == 422
    assert "There is a problem" in response.text and message in response.text
    assert "<title>Error: Audit trail" in response.text
    assert shown(response.text, *four) == []
    typed = {key: values for key, values in query.items() if key not in ("actor", "object_type")}  # not lists
    for value in (value for values in typed.values() for value in ([values] if isinstance(values, str) else values)):
        if value:
            assert f'value="{value}"' in response.text  # typed filters are kept


# -- pages and queries --------------------------------------------------------------------------


def test_pages_of_fifty_newest_first_keeping_the_filters(csu, two_orgs):
    many(120, [two_orgs["admin"]])

    first = csu.get("/audit/", query_string={"object_type": "organisation"}).text
    assert "Showing events 1 to 50 of 120, newest first." in first
    assert first.index("Event 119") < first.index("Event 070")
    assert "Event 069" not in first
    assert "/audit/?object_type=organisation&amp;page=2" in first
    assert "/audit/?object_type=organisation&amp;page=3" in first

    last = csu.get("/audit/", query_string={"object_type": "organisation", "page": "3"}).text
    assert "Showing events 101 to 120 of 120" in last
    assert "Event 000" in last and "Event 020" not in last
    assert csu.get("/audit/?page=4").status_code == 404
    assert csu.get("/audit/?page=-1").status_code == 404
    assert PER_PAGE == 50


def test_a_page_costs_the_same_queries_for_ten_events_as_for_five_hundred(csu, two_orgs, count_queries):
    actors = [two_orgs["admin"], two_orgs["csu"], two_orgs["finance"], two_orgs["partner_a"]]

    def queries() -> int:
        with count_queries() as counter:
            response = csu.get("/audit/", query_string={"object_type": "organisation"})
        assert response.status_code == 200
        return counter.count

    many(10, actors)
    at_ten = queries()
    many(490, actors, start=10)
    at_five_hundred = queries()

    assert at_ten == at_five_hundred
    # The user loader and the demo banner's check, then one count, one page, the actors (and their roles).
    assert at_ten <= 7


# -- before and after, in words -------------------------------------------------------------------


def test_details_are_shown_as_before_and_after_in_words(csu, two_orgs):
    at = datetime(2021, 7, 1, 9, tzinfo=UTC)
    event("Changed DAVSS", at, details={"changes": {"charity_number": [None, "1012345"], "retired": [False, True]}})
    event(
        "Paid",
        at,
        action="payment.recorded",
        object_type="payment",
        details={"amount_pence": 250000, "paid_on": "2021-05-01"},
    )
    event("Roles", at, object_type="user", details={"changes": {"roles": [["partner"], ["csu", "finance", "partner"]]}})
    event("Measure", at, object_type="output_measure", details={"changes": {"combine": ["sum", "latest"]}})
    event("Rated", at, object_type="project", details={"quarter": 1, "before": None, "after": {"rag": "amber"}})
    db.session.commit()

    page = csu.get("/audit/").text

    assert "<strong>Charity number</strong>: from blank to 1012345" in page
    assert "<strong>Retired</strong>: from No to Yes" in page
    assert "<strong>Amount</strong>: £2,500.00" in page
    assert "<strong>Roles</strong>: from Partner to Partner, Community Safety Unit, Finance" in page  # roles' order
    assert "<strong>Combine</strong>: from Added up to Latest quarter" in page
    assert "<strong>Rating</strong>: from blank to Amber" in page
    assert "<strong>Quarter</strong>: 1" in page


def test_a_narratives_words_are_never_shown(csu, two_orgs):
    at = datetime(2021, 7, 1, 9, tzinfo=UTC)
    event(
        "Saved narrative",
        at,
        object_type="monitoring_return",
        details={
            "changes": {
                "Progress this quarter": ["changed", "changed"],
                "progress": ["Mrs Smith", "Mr Jones"],
                "case_study": [None, "A story about Ann"],
            }
        },
    )
    event("Oddly kept", at, object_type="monitoring_return", details={"challenges": "Ann's address"})
    db.session.commit()

    response = csu.get("/audit/")
    csv_text = csu.get("/audit/events.csv").data.decode("utf-8-sig")

    for text in (response.text, csv_text):
        for words in ("Mrs Smith", "Mr Jones", "Ann"):
            assert words not in text
    assert response.text.count(AUDIT_TEXT_CHANGED) == 4
    assert "Progress this quarter: " + AUDIT_TEXT_CHANGED in csv_text


# -- the download -------------------------------------------------------------------------------


def test_the_csv_is_the_same_filtered_list_neutralised(csu, two_orgs, four):
    event(
        '=HYPERLINK("http://evil.example")',
        datetime(2022, 2, 1, tzinfo=UTC),
        object_id=3,
        details={"changes": {"name": ["Old", "@SUM(1+1)"]}},
    )
    db.session.commit()

    response = csu.get("/audit/events.csv", query_string={"object_type": "organisation"})

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row[6] for row in rows[1:]] == ['\'=HYPERLINK("http://evil.example")', "Charlie event", "Alpha event"]
    hyperlink, charlie, alpha = rows[1:]
    assert hyperlink[7] == "Name: from Old to @SUM(1+1)"  # not at the start of the cell: no formula
    assert charlie[1:4] == ["", SYSTEM_ACTOR, "organisation.updated"]
    assert alpha[0] == "2021-06-30T23:30:00+01:00"  # UK time, with its offset
    assert alpha[1:3] == ["admin@council.example", "admin"]
    assert (alpha[4], alpha[5]) == ("Organisation", "1")


def test_the_page_links_to_the_csv_of_the_same_filters(csu, four):
    page = csu.get("/audit/", query_string={"object_type": "organisation", "page": "1"}).text
    assert 'href="/audit/events.csv?object_type=organisation"' in page


# -- one name for every kind of object ----------------------------------------------------------


def recorded_object_types() -> set[str]:
    """Every object_type the portal's code records, including the year import's kinds."""
    found = set()
    for path in PORTAL.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "object_type" and isinstance(keyword.value, ast.Constant):
                    found.add(keyword.value.value)
            name = getattr(node.func, "id", None)
            if name == "_upsert" and len(node.args) >= 5 and isinstance(node.args[4], ast.Constant):
                found.add(node.args[4].value)
    return found


def test_every_kind_of_object_recorded_can_be_filtered_by_its_name():
    kinds = recorded_object_types()
    assert {"organisation", "user", "monitoring_return", "payment", "output_measure"} <= kinds
    assert kinds - set(OBJECT_TYPE_LABELS) == set()
