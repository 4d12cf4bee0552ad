"""Budget against delivery: the definitions at their boundaries, the overview's filters and sorting,
the CSU's rating, the due list and the project page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, CsuRating, MeasureValue, MonitoringReturn, OutputMeasure, Payment, Priority
from portal.services.delivery import delivery_rag, percentage, project_delivery


def report(project, quarter, values: dict[str, object], status="approved", spend_pence=None, rag=None):
    """A reported return with values by measure name."""
    measures = {measure.name: measure for measure in db.session.get(type(project), project.id).measures}
    mreturn = MonitoringReturn(
        project_id=project.id, quarter=quarter, status=status, spend_pence=spend_pence, partner_rag=rag
    )
    mreturn.values = [MeasureValue(measure=measures[name], value=Decimal(str(value))) for name, value in values.items()]
    db.session.add(mreturn)
    db.session.commit()
    return mreturn


@pytest.mark.parametrize(
    ("pct", "rag"),
    [
        (Decimal("90.0"), "green"),
        (Decimal("89.9"), "amber"),
        (Decimal("70.0"), "amber"),
        (Decimal("69.9"), "red"),
        (Decimal("0.0"), "red"),
        (Decimal("150.0"), "green"),
        (None, None),
    ],
)
def test_delivery_rag_boundaries(pct, rag):
    assert delivery_rag(pct) == rag


def test_percentages_round_half_up_to_one_decimal():
    assert percentage(899, 1000) == Decimal("89.9")
    assert percentage(8995, 10000) == Decimal("90.0")  # 89.95 rounds up: Green
    assert percentage(1, 3) == Decimal("33.3")
    assert percentage(5, 0) is None


@pytest.fixture
def project(make_org, make_year, make_stream, make_project):
    year = make_year(2021)
    stream = make_stream(year)
    return make_project(
        make_org("DAVSS"),
        stream,
        "Support",
        amount_pence=1_000_000,
        measures=[
            {"name": "Referrals", "annual_target": 800},
            {"name": "Calls", "annual_target": 400},
            {"name": "Open cases", "combine": "latest", "annual_target": 100},
            {"name": "Leaflets"},  # no target: never part of delivery
        ],
    )


@freeze_time("2021-08-01 12:00:00")  # Q1 is due (14 July), Q2 not yet
@pytest.mark.parametrize(
    ("referrals", "expected_pct", "expected_rag"),
    [(180, "90.0", "green"), (179.8, "89.9", "amber"), (140, "70.0", "amber"), (139.8, "69.9", "red")],
)
def test_delivery_to_date_at_the_boundaries(project, referrals, expected_pct, expected_rag):
    # One quarter reported: target to date is 800 / 4 = 200 referrals and 100 calls.
    measure = db.session.scalar(select(OutputMeasure).where(OutputMeasure.name == "Referrals"))
    measure.unit = "hours"  # allow the decimals the boundary needs
    db.session.commit()
    report(project, 1, {"Referrals": referrals, "Calls": Decimal(expected_pct) * 1, "Open cases": 5})
    delivery = project_delivery(project)
    # Mean of referrals/200 and calls/100 (calls chosen equal to the expected percentage).
    assert delivery.delivery_pct == Decimal(expected_pct)
    assert delivery.delivery_rag == expected_rag


@freeze_time("2021-11-01 12:00:00")  # Q1 and Q2 are due, Q3 not yet
def test_quarterly_targets_take_precedence_over_the_annual_target(project):
    measure = db.session.scalar(select(OutputMeasure).where(OutputMeasure.name == "Referrals"))
    measure.quarterly_targets = [Decimal(100), Decimal(300), Decimal(200), Decimal(200)]
    db.session.commit()
    report(project, 1, {"Referrals": 100, "Calls": 100})
    report(project, 2, {"Referrals": 200, "Calls": 100})
    delivery = project_delivery(project)
    # Referrals: 300 of (100 + 300) = 75%; calls: 200 of 400 × 2/4 = 100%; mean 87.5%.
    assert delivery.delivery_pct == Decimal("87.5")
    assert delivery.delivery_rag == "amber"


@freeze_time("2022-01-20 12:00:00")  # Q1 to Q3 are due; Q2 was never reported
def test_latest_measures_take_the_last_reported_quarter_and_are_left_out_of_delivery(project):
    report(project, 1, {"Referrals": 200, "Calls": 100, "Open cases": 40})
    report(project, 3, {"Referrals": 200, "Calls": 100, "Open cases": 55})
    delivery = project_delivery(project)
    open_cases = next(f for f in delivery.measures if f.measure.name == "Open cases")
    referrals = next(f for f in delivery.measures if f.measure.name == "Referrals")
    assert open_cases.total == Decimal(55)
    assert open_cases.pct_of_target == Decimal("55.0")
    assert referrals.total == Decimal(400)
    assert referrals.pct_of_target == Decimal("50.0")
    # The missing Q2 counts as nothing: 400/600 and 200/300; "latest" does not count.
    assert delivery.missing_quarters == [2]
    assert delivery.delivery_pct == Decimal("66.7")


def test_no_target_means_no_delivery_figure(make_org, make_year, make_stream, make_project):
    stream = make_stream(make_year(2021))
    bare = make_project(make_org("X"), stream, "No targets", measures=[{"name": "People"}])
    report(bare, 1, {"People": 10})
    delivery = project_delivery(bare)
    assert delivery.delivery_pct is None and delivery.delivery_rag is None
    assert delivery.measures[0].pct_of_target is None


def test_only_submitted_and_approved_quarters_count_and_submitted_is_provisional(project):
    report(project, 1, {"Referrals": 200, "Calls": 100}, status="approved", spend_pence=250_000)
    report(project, 2, {"Referrals": 150, "Calls": 100}, status="submitted", spend_pence=200_000)
    report(project, 3, {"Referrals": 999, "Calls": 999}, status="draft", spend_pence=999_999)
    delivery = project_delivery(project)
    referrals = next(f for f in delivery.measures if f.measure.name == "Referrals")
    assert referrals.quarters == [Decimal(200), Decimal(150), None, None]
    assert referrals.provisional[:2] == [False, True]
    assert delivery.is_provisional(2) and not delivery.is_provisional(1)
    assert delivery.reported_spend_pence == 450_000
    assert delivery.spend_pct_of_award == Decimal("45.0")


def test_the_project_page_shows_the_quarterly_table_with_computed_totals(client, project, make_user, login):
    report(project, 1, {"Referrals": 234, "Calls": 1172}, status="approved")
    report(project, 2, {"Referrals": 204, "Calls": 750}, status="submitted")
    login(client, make_user("csu@x.example", ("csu",)))
    page = client.get(f"/csu/projects/{project.id}").text
    assert "438" in page  # 234 + 204, computed
    assert "204*" in page and "provisional" in page


class TestOverview:
    @pytest.fixture
    def world(self, make_org, make_year, make_stream, make_project, make_user):
        year = make_year(2021)
        stream = make_stream(year)
        abuse = Priority(year=year, name="Domestic Abuse", rank=1)
        misuse = Priority(year=year, name="Substance Misuse", rank=2)
        db.session.add_all([abuse, misuse])
        db.session.commit()
        good = make_project(
            make_org("AAA", "Alpha Trust"),
            stream,
            "Green project",
            amount_pence=500_000,
            priority=abuse,
            measures=[{"name": "People", "annual_target": 40}],
        )
        poor = make_project(
            make_org("ZZZ", "Zeta Trust"),
            stream,
            "Red project",
            amount_pence=900_000,
            priority=misuse,
            measures=[{"name": "People", "annual_target": 40}],
        )
        report(good, 1, {"People": 10})
        report(poor, 1, {"People": 1})
        return {"year": year, "abuse": abuse, "good": good, "poor": poor, "csu": make_user("csu@x.example")}

    @freeze_time("2021-08-01 12:00:00")  # only Q1, which both reported, is due
    def test_filters_live_in_the_url(self, client, world, login):
        login(client, world["csu"])
        page = client.get(f"/csu/2021-22/?priority={world['abuse'].id}").text
        assert "Green project" in page and "Red project" not in page
        page = client.get("/csu/2021-22/?organisation=ZZZ").text
        assert "Red project" in page and "Green project" not in page
        page = client.get("/csu/2021-22/?rag=red").text
        assert "Red project" in page and "Green project" not in page
        assert "1 of 2 projects" in page

    def test_status_filter_and_overdue(self, client, world, login):
        login(client, world["csu"])
        assert "Green project" in client.get("/csu/2021-22/?status=approved").text
        assert "No projects match" in client.get("/csu/2021-22/?status=submitted").text
        assert "Red project" in client.get("/csu/2021-22/?status=overdue").text  # Q2-Q4 of 2021-22 overdue

    def test_sorting_by_url_both_ways(self, client, world, login):
        login(client, world["csu"])
        ascending = client.get("/csu/2021-22/?sort=award&dir=asc").text
        descending = client.get("/csu/2021-22/?sort=award&dir=desc").text
        assert ascending.index("Green project") < ascending.index("Red project")
        assert descending.index("Red project") < descending.index("Green project")
        assert 'aria-sort="descending"' in descending

    @freeze_time("2021-08-01 12:00:00")
    def test_htmx_gets_the_table_fragment_and_a_plain_request_the_page(self, client, world, login):
        login(client, world["csu"])
        fragment = client.get("/csu/2021-22/?rag=green", headers={"HX-Request": "true"})
        assert fragment.status_code == 200
        assert fragment.text.lstrip().startswith('<div id="budget-table"')
        assert "<html" not in fragment.text
        assert "Green project" in fragment.text and "Red project" not in fragment.text
        page = client.get("/csu/2021-22/?rag=green")
        assert "<html" in page.text and 'id="budget-table"' in page.text
        restore = client.get(
            "/csu/2021-22/?rag=green", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
        )
        assert "<html" in restore.text
        assert "HX-Request" in page.headers["Vary"]

    def test_unknown_filter_values_are_ignored(self, client, world, login):
        login(client, world["csu"])
        page = client.get("/csu/2021-22/?rag=purple&sort=nonsense&status=%27OR1=1").text
        assert "Green project" in page and "Red project" in page

    def test_totals_row_is_computed(self, client, world, login):
        login(client, world["csu"])
        assert "£14,000.00" in client.get("/csu/2021-22/").text


@freeze_time("2021-08-01 12:00:00")
def test_csu_rating_is_audited_and_stands_beside_the_others(client, project, make_user, login):
    csu = make_user("csu@x.example", ("csu",))
    report(project, 1, {"Referrals": 200, "Calls": 100}, rag="amber")
    login(client, csu)
    response = client.post(
        f"/csu/projects/{project.id}", data={"quarter": "1", "rag": "red", "reason": "Staff shortages"}
    )
    assert response.status_code == 302
    rating = db.session.scalar(select(CsuRating))
    assert (rating.quarter, rating.rag, rating.reason, rating.set_by_id) == (1, "red", "Staff shortages", csu.id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "csu_rating.set"))
    assert event.actor_id == csu.id and event.details["after"]["rag"] == "red"
    page = client.get(f"/csu/projects/{project.id}").text
    assert 'Delivery <strong class="govuk-tag govuk-tag--green">Green' in page
    assert 'Partner <strong class="govuk-tag govuk-tag--orange">Amber' in page
    assert 'CSU <strong class="govuk-tag govuk-tag--red">Red' in page


def test_csu_rating_needs_a_rating_and_a_reason(client, project, make_user, login):
    login(client, make_user("csu@x.example", ("csu",)))
    response = client.post(f"/csu/projects/{project.id}", data={"quarter": "1", "rag": "", "reason": " "})
    assert response.status_code == 422
    assert "Select Green, Amber or Red" in response.text and "Enter the reason for your rating" in response.text
    assert db.session.scalar(select(CsuRating)) is None


def test_finance_reads_the_project_page_but_cannot_rate(client, project, make_user, login):
    login(client, make_user("fin@x.example", ("finance",)))
    assert client.get(f"/csu/projects/{project.id}").status_code == 200
    response = client.post(f"/csu/projects/{project.id}", data={"quarter": "1", "rag": "red", "reason": "x"})
    assert response.status_code == 403
    assert db.session.scalar(select(CsuRating)) is None


@freeze_time("2021-10-20 12:00:00")
def test_due_list_shows_overdue_and_due_soon_with_contacts(client, project, make_user, login):
    make_user("worker@davss.example", ("partner",), project.organisation)
    report(project, 1, {"Referrals": 1})
    login(client, make_user("csu@x.example"))
    page = client.get("/csu/due").text
    # Q2 was due on 14 October: 6 days overdue. Q1 was reported; Q3 is not due until January.
    assert "2021-22 Q2" in page and ">6<" in page.replace(" ", "")
    assert "2021-22 Q1" not in page and "2021-22 Q3" not in page
    assert "worker@davss.example" in page


@freeze_time("2022-01-05 12:00:00")
def test_due_list_includes_returns_due_within_14_days(client, project, make_user, login):
    report(project, 1, {"Referrals": 1})
    report(project, 2, {"Referrals": 1})
    login(client, make_user("csu@x.example"))
    page = client.get("/csu/due").text
    assert "2021-22 Q3" in page and "Not yet due" in page  # due 14 January


def test_priorities_page_lists_projects_per_priority(
    client, make_org, make_year, make_stream, make_project, make_user, login
):
    year = make_year(2021)
    stream = make_stream(year)
    abuse = Priority(year=year, name="Domestic Abuse", rank=1)
    db.session.add(abuse)
    db.session.commit()
    project = make_project(make_org("DAVSS"), stream, "Support", priority=abuse)
    project.actions = ["3.2", "3.5"]
    db.session.commit()
    login(client, make_user("csu@x.example"))
    page = client.get("/csu/2021-22/priorities").text
    assert "1. Domestic Abuse" in page and "Support" in page and "3.2, 3.5" in page


@pytest.mark.parametrize("path", ["overview", "project"])
def test_csu_pages_issue_a_fixed_number_of_queries(
    client, make_org, make_year, make_stream, make_project, make_user, login, count_queries, path
):
    year = make_year(2021)
    stream = make_stream(year)
    org = make_org("BIG")
    login(client, make_user("csu@x.example"))
    made: list = []

    def grow(count):
        for number in range(len(made), len(made) + count):
            project = make_project(
                org,
                stream,
                f"Project {number:03d}",
                measures=[{"name": "People", "annual_target": 40}, {"name": "Calls"}],
            )
            made.append(project)
            for quarter in (1, 2, 3, 4):  # 200 projects: 800 returns, past any batching of 500
                report(project, quarter, {"People": 10, "Calls": 3})
            db.session.add(Payment(project=project, amount_pence=100, paid_on=date(2021, 5, 1)))
            db.session.add(CsuRating(project=project, quarter=1, rag="green", reason="fine"))
        db.session.commit()

    counts = []
    for size in (5, 195):
        grow(size)
        url = "/csu/2021-22/" if path == "overview" else f"/csu/projects/{made[0].id}"
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_demo_project_pages_show_the_seeds_quarterly_tables(client, login):
    """DAVSS 2020-21 (q1, q2 20-21 of the action plan) and PAS 2020-21 ("2020 Referrals"), totals computed."""
    import re

    from portal.models import Organisation, Project, User
    from portal.services import demo

    demo.load("delivery-demo-password")
    db.session.commit()
    login(client, db.session.scalar(select(User).where(User.email == "csu@demo.test")))

    def table(short_name: str) -> dict[str, list[str]]:
        project = db.session.scalar(
            select(Project)
            .join(Organisation)
            .where(Organisation.short_name == short_name, Project.year.has(start_year=2020))
        )
        page = client.get(f"/csu/projects/{project.id}").text
        body = page[page.index('id="outputs-table"') : page.index("</table>", page.index('id="outputs-table"'))]
        rows = {}
        for row in re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", body, re.S)[1:]:
            name = re.sub(
                r"<[^>]+>|\(latest quarter\)", "", re.search(r"<th[^>]*>(.*?)</th>", row, re.S).group(1)
            ).strip()
            cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            rows[name] = cells[:5]
        return rows

    davss = table("DAVSS")
    assert davss["Referrals"] == ["203", "274", "", "", "477"]
    assert davss["Volunteer hours total"] == ["9,799", "10,988", "", "", "20,787"]
    pas = table("PAS")
    assert pas["High risk"] == ["6", "32", "53", "43", "134"]  # the printed table says 87
    assert pas["Referrals from West Kent"] == ["49", "73", "89", "73", "284"]
    assert pas["Volunteer hours"] == ["1,597", "1,612", "1,671", "1,639", "6,519"]
