"""Each role's home shows real figures from the database, with a bounded number of queries."""

from __future__ import annotations

from datetime import date

import pytest
from freezegun import freeze_time

from portal.extensions import db
from portal.models import MonitoringReturn, Payment


def test_partner_home_shows_award_paid_and_reported_spend(client, two_orgs, login):
    project = two_orgs["davss_project"]
    db.session.add_all(
        [
            Payment(project=project, amount_pence=500_000, paid_on=date(2021, 4, 20)),
            Payment(project=project, amount_pence=100_000, paid_on=date(2021, 5, 1), kind="reversal"),
            MonitoringReturn(project=project, quarter=1, status="approved", spend_pence=250_050),
            MonitoringReturn(project=project, quarter=2, status="draft", spend_pence=999_900),
        ]
    )
    db.session.commit()
    login(client, two_orgs["partner_a"])
    page = client.get("/partner/2021-22/").text
    assert "£10,000.00" in page  # award
    assert "£4,000.00" in page  # paid: a payment less its reversal
    assert "£2,500.50" in page  # spend from reported quarters only, not the draft
    assert "£9,999.00" not in page


@freeze_time("2021-08-20 12:00:00")
def test_partner_home_shows_each_quarter_with_its_tag_and_overdue(client, two_orgs, login):
    db.session.add(MonitoringReturn(project=two_orgs["davss_project"], quarter=2, status="draft"))
    db.session.commit()
    login(client, two_orgs["partner_a"])
    page = client.get("/partner/").text
    assert "14 July 2021" in page and "14 October 2021" in page  # due 14 days after each quarter
    assert "Not started" in page and "Overdue" in page  # Q1 was due on 14 July
    assert "Draft" in page  # Q2
    assert "Opens 1 October 2021" in page  # Q3 cannot be opened yet


@freeze_time("2021-07-14 22:59:00")  # 23:59 BST on the due date: not yet overdue
def test_a_return_due_today_is_not_overdue_until_midnight_uk_time(client, two_orgs, login):
    login(client, two_orgs["partner_a"])
    assert "Overdue" not in client.get("/partner/").text


@freeze_time("2021-07-14 23:00:01")  # 00:00:01 BST on 15 July
def test_a_return_is_overdue_after_midnight_uk_time(client, two_orgs, login):
    login(client, two_orgs["partner_a"])
    assert "Overdue" in client.get("/partner/").text


def test_partner_chooses_an_earlier_year(client, two_orgs, login, make_year):
    make_year(2022)
    login(client, two_orgs["partner_a"])
    page = client.get("/partner/2022-23/").text
    assert "no projects funded in 2022-23" in page
    assert 'href="/partner/2021-22/"' in page


def test_csu_home_lists_every_project_with_totals(client, two_orgs, login):
    login(client, two_orgs["csu"])
    page = client.get("/csu/2021-22/").text
    assert "Support for Medium &amp; High Risk Victims" in page
    assert "Youth Diversionary" in page
    assert "£20,000.00" in page  # total of the two awards, computed


def test_finance_home_shows_total_awarded_and_unallocated(client, two_orgs, login):
    login(client, two_orgs["finance"])
    page = client.get("/finance/2021-22/").text
    assert 'data-figure="total">£34,218.00' in page
    assert 'data-figure="awarded">£20,000.00' in page
    assert 'data-figure="unallocated">£14,218.00' in page


def test_admin_home_lists_organisations_and_users(client, two_orgs, login):
    login(client, two_orgs["admin"])
    page = client.get("/admin/").text
    assert "Domestic Abuse Volunteer Support Services" in page and "Kenward Trust" in page
    assert "a@davss.example" in page and "finance@council.example" in page


def test_a_home_without_any_year_explains_what_to_do(client, make_user, login):
    login(client, make_user("csu@x.example", ("csu",)))
    assert "No financial year is set up yet" in client.get("/csu/").text


@pytest.fixture
def many_projects(make_org, make_year, make_stream, make_project, make_user):
    year = make_year(2021)
    stream = make_stream(year)
    org = make_org("BIG", "Big organisation")

    made = []

    def grow(count: int):
        for number in range(len(made), len(made) + count):
            made.append(number)
            project = make_project(org, stream, f"Project {number:03d}", measures=[{"name": "People"}])
            db.session.add(MonitoringReturn(project=project, quarter=1, status="submitted", spend_pence=100))
            db.session.add(Payment(project=project, amount_pence=1000, paid_on=date(2021, 5, 1)))
        db.session.commit()

    return {"grow": grow, "partner": make_user("p@big.example", ("partner",), org), "csu": make_user("c@x.example")}


@pytest.mark.parametrize("path_for", ["partner", "csu"])
def test_home_queries_do_not_grow_with_the_number_of_projects(client, many_projects, login, count_queries, path_for):
    user = many_projects[path_for]
    path = "/partner/2021-22/" if path_for == "partner" else "/csu/2021-22/"
    login(client, user)
    counts = []
    for size in (5, 195):  # 5 projects, then 200
        many_projects["grow"](size)
        with count_queries() as counter:
            response = client.get(path)
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    if path_for == "partner":
        assert "Project 199" in response.text
    else:  # the overview shows 25 projects a page: the last of 200 is on the eighth
        assert "Project 024" in response.text and "Project 025" not in response.text
        assert "Project 199" in client.get(path + "?page=8").text
