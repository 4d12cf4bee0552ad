"""Finance's year pages at scale (issue 15): the home, the reconciliation and the ledger show 25 projects a page,
sorted and paged in SQL, with the year's totals over every page; each page, and a project's page, costs the same
few queries however many projects the year holds."""

from __future__ import annotations

from datetime import date

import lxml.html
import pytest

from portal.extensions import db
from portal.models import AwardVariation, MonitoringReturn, Payment, PaymentInstalment

YEAR = "2021-22"
PER_PAGE = 25
MOST_QUERIES = 12
PAGES = {
    "home": (f"/finance/{YEAR}/", "funding-table"),
    "reconciliation": (f"/finance/{YEAR}/reconciliation", "reconciliation-table"),
    "ledger": (f"/finance/{YEAR}/ledger", "ledger-tables"),
}


@pytest.fixture
def year_of(make_org, make_year, make_stream, make_project, make_user, client, login):
    """A year that grows: `grow(n)` adds n projects (three to an organisation), each with a payment, a variation,
    an instalment and returns whose figures differ from project to project. Finance is signed in."""
    year = make_year(2021)
    streams = [make_stream(year, name="Grant", amount_pence=900_000_000), make_stream(year, name="Fund")]
    finance = make_user("fin@x.example", ("finance",))
    login(client, finance)
    made: list = []

    def grow(count: int) -> list:
        for number in range(len(made), len(made) + count):
            org = made[number - 1].organisation if number % 3 else make_org(f"ORG{number:03d}", f"Org {number:03d}")
            award = 1_000_000 + number * 1_000
            project = make_project(org, streams[number % 2], f"Project {number:03d}", amount_pence=award)
            made.append(project)
            db.session.add_all(
                [
                    Payment(
                        project=project,
                        amount_pence=200_000 + number * 7_000,
                        paid_on=date(2021, 5, 1),
                        reference=f"BACS-{number}",
                        recorded_by_id=finance.id,
                    ),
                    AwardVariation(
                        project=project,
                        from_pence=award - 50_000,
                        to_pence=award,
                        reason="Agreed",
                        varied_by_id=finance.id,
                    ),
                    PaymentInstalment(project=project, number=1, amount_pence=100_000, after_quarter=1),
                    MonitoringReturn(project_id=project.id, quarter=1, status="approved", spend_pence=number * 11_000),
                    MonitoringReturn(project_id=project.id, quarter=2, status="submitted", spend_pence=100_000),
                ]
            )
        db.session.commit()
        return made

    return {"grow": grow, "year": year, "finance": finance}


def html(response) -> lxml.html.HtmlElement:
    assert response.status_code == 200
    return lxml.html.fromstring(response.text)


def cells(row) -> list[str]:
    return [" ".join(cell.text_content().split()) for cell in row.xpath("td")]


def pence(text: str) -> int:
    return round(float(text.replace("£", "").replace(",", "")) * 100)


def table_rows(page, element_id: str) -> list[list[str]]:
    return [cells(row) for row in page.xpath(f"//*[@id='{element_id}']//table/tbody/tr")]


def totals(page, element_id: str) -> list[int]:
    return [pence(cell) for cell in cells(page.xpath(f"//*[@id='{element_id}']//table/tfoot/tr")[0]) if cell]


def every_page(client, name: str) -> list:
    """Each page of a list, followed by its Next link, as a person without JavaScript would."""
    path, _ = PAGES[name]
    pages = [html(client.get(path))]
    while found := pages[-1].xpath("//nav[contains(@class, 'govuk-pagination')]//a[@rel='next']"):
        pages.append(html(client.get(found[0].get("href"))))
    return pages


# -- totals over every page -------------------------------------------------------------------------


def test_the_reconciliations_totals_are_the_sum_of_every_row_on_every_page(client, year_of):
    year_of["grow"](60)
    pages = every_page(client, "reconciliation")
    assert len(pages) == 3
    rows = [row for page in pages for row in table_rows(page, "reconciliation-table")]
    assert [row[1] for row in rows] == [f"Project {number:03d}" for number in range(60)]
    summed = [sum(pence(row[column]) for row in rows) for column in range(2, 7)]
    for page in pages:  # the same year's totals on each page, not the page's own
        assert totals(page, "reconciliation-table") == summed
    # And what a row shows: paid £2,000 + £70 a project, spend (approved and submitted) £1,000 + £110 a project.
    assert rows[10][2:] == ["£10,100.00", "£2,700.00", "£2,100.00", "£600.00", "£0.00"]


def test_the_homes_totals_are_the_sum_of_every_row_and_of_the_streams(client, year_of):
    year_of["grow"](60)
    pages = every_page(client, "home")
    rows = [row for page in pages for row in table_rows(page, "funding-table")]
    assert len(rows) == 60 and len({row[1] for row in rows}) == 60
    summed = [sum(pence(row[column]) for row in rows) for column in range(3, 7)]
    streams = [
        sum(pence(cell.text_content().split()[0]) for cell in pages[0].xpath(f"//dd[@data-figure='{figure}']"))
        for figure in ("awarded", "paid", "spend", "to-pay")
    ]
    for page in pages:
        assert totals(page, "funding-table") == summed == streams
    assert rows[10][2:] == ["Grant", "£10,100.00", "£2,700.00", "£2,100.00", "£7,400.00", "1 paid"]


def test_the_ledgers_totals_are_every_projects_award_paid_and_balance(client, year_of):
    made = year_of["grow"](60)
    pages = every_page(client, "ledger")
    assert len(pages) == 3
    captions = [" ".join(caption.text_content().split()) for page in pages for caption in page.xpath("//table/caption")]
    assert captions == [f"{project.organisation.short_name}: {project.name}" for project in made]
    balances = [pence(cells(table.xpath("tbody/tr")[-1])[-1]) for page in pages for table in page.xpath("//table")]
    award = sum(project.amount_pence for project in made)
    paid = sum(200_000 + number * 7_000 for number in range(60))
    for page in pages:
        shown = {dd.get("data-total"): pence(dd.text_content()) for dd in page.xpath("//dd[@data-total]")}
        assert shown == {"award": award, "paid": paid, "to-pay": award - paid} and award - paid == sum(balances)


# -- pagination by URL, with and without htmx ------------------------------------------------------


@pytest.mark.parametrize("name", list(PAGES))
def test_a_page_is_chosen_by_url_and_htmx_gets_the_fragment_alone(client, year_of, name):
    year_of["grow"](30)
    path, element_id = PAGES[name]
    whole = client.get(f"{path}?page=2")
    fragment = client.get(f"{path}?page=2", headers={"HX-Request": "true"})
    assert "<html" in whole.text and "<html" not in fragment.text
    # One address answers two ways: a cache, the browser's included, must keep them apart.
    for response in (whole, fragment):
        assert "HX-Request" in response.headers.get("Vary", "")
    assert fragment.text.lstrip().startswith(f'<div id="{element_id}">')
    shown = [
        page.xpath(f"//*[@id='{element_id}']//table//caption | //*[@id='{element_id}']//tbody/tr")
        for page in (
            html(whole),
            lxml.html.fragment_fromstring(fragment.text, create_parent="div"),
        )
    ]
    assert [element.text_content() for element in shown[0]] == [element.text_content() for element in shown[1]]
    assert "Project 025" in fragment.text and "Project 024" not in fragment.text
    nav = html(whole).xpath("//nav[contains(@class, 'govuk-pagination')]")
    assert len(nav) == 1 and nav[0].get("aria-label")
    previous = nav[0].xpath(".//a[@rel='prev']")[0]
    assert previous.get("href") == path and previous.get("hx-get") == path
    assert previous.get("hx-target") == f"#{element_id}"


@pytest.mark.parametrize("name", list(PAGES))
def test_a_page_past_the_last_shows_the_last_and_nonsense_the_first(client, year_of, name):
    year_of["grow"](30)
    path, element_id = PAGES[name]
    last, past = (html(client.get(f"{path}?page={number}")) for number in (2, 99))
    assert "Project 029" in past.text_content() and "Project 024" not in past.text_content()
    current = past.xpath("//*[contains(@class, 'govuk-pagination__item--current')]")[0]
    assert current.text_content().strip() == "2"
    assert table_rows(past, element_id) == table_rows(last, element_id)
    for nonsense in ("0", "-3", "two"):
        first = html(client.get(f"{path}?page={nonsense}")).text_content()
        assert "Project 000" in first and "Project 025" not in first


def test_a_small_year_has_no_pagination(client, year_of):
    year_of["grow"](3)
    for path, _ in PAGES.values():
        assert "govuk-pagination" not in client.get(path).text


# -- the year-end check on a big year --------------------------------------------------------------


def test_the_reconciliation_lists_the_first_open_returns_and_counts_them_all(client, year_of):
    year_of["grow"](30)  # each: Q2 submitted, Q3 and Q4 not started (the year is over): 90 not approved
    page = html(client.get(f"/finance/{YEAR}/reconciliation"))
    assert len(page.xpath("//table[@id='open-returns']/tbody/tr")) == PER_PAGE
    assert "90 returns are not approved" in page.text_content()
    assert "And 65 more returns not approved" in page.text_content()
    first = cells(page.xpath("//table[@id='open-returns']/tbody/tr")[0])
    assert first == ["ORG000", "Project 000", "Q2", "Submitted"]


# -- queries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*PAGES, "project"])
def test_each_finance_page_costs_the_same_few_queries_at_3_and_30_projects(client, year_of, count_queries, name):
    counts = []
    for size in (3, 27):
        made = year_of["grow"](size)
        path = f"/finance/projects/{made[0].id}" if name == "project" else PAGES[name][0]
        client.get(path)  # what a first visit computes (a stale summary) is not what every visit costs
        with count_queries() as counter:
            response = client.get(path)
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    assert counts[0] <= MOST_QUERIES, counts
