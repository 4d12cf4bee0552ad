"""The return gives the partner the context to answer: beside each output, this quarter's target (or a quarter of
the annual one), last quarter's figure and the year to date including what is typed — computed by the portal on
every page it draws (without JavaScript) and by the browser as they type (tests/browser)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.calendar import current_start_year
from portal.extensions import db
from portal.models import MeasureValue, MonitoringReturn
from tests.test_returns_safety import url


@pytest.fixture
def partner(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["partner_a"])
    return client


@pytest.fixture
def project(two_orgs, make_project):
    """DAVSS's project with a measure that adds up (Referrals, annual 800) and a level (Open cases, annual 40)."""
    return make_project(
        two_orgs["davss"],
        two_orgs["davss_project"].funding_stream,
        "Outreach",
        measures=[
            {"name": "Referrals", "annual_target": 800},
            {"name": "Open cases", "annual_target": 40, "combine": "latest"},
            {"name": "Sessions", "quarterly_targets": [10, 12, 14, 16]},
        ],
    )


def reported(project, quarter: int, status: str, *values) -> None:
    mreturn = MonitoringReturn(
        project=project, quarter=quarter, status=status, submitted_at=datetime.now(UTC), spend_pence=250_000
    )
    db.session.add(mreturn)
    for measure, value in zip(project.measures, values, strict=False):
        if value is not None:
            db.session.add(MeasureValue(monitoring_return=mreturn, measure=measure, value=Decimal(value)))
    db.session.commit()


def context_of(page: str, measure) -> tuple[str, str]:
    """(the field's hint, the year to date shown under it)."""
    hint = re.search(rf'id="m{measure.id}-hint"[^>]*>(.*?)</div>', page, re.S).group(1)
    to_date = re.search(rf'data-year-to-date-for="m{measure.id}"[^>]*>(.*?)</strong>', page, re.S).group(1)
    return " ".join(hint.split()), to_date


def test_the_first_quarter_shows_a_quarter_of_the_annual_target_and_no_last_quarter(partner, project):
    page = partner.get(url(project, 1, "outputs")).text
    referrals, cases, sessions = project.measures
    hint, to_date = context_of(page, referrals)
    assert "Target this quarter: 200 (a quarter of the annual 800)." in hint and "Last quarter" not in hint
    assert to_date == "—"
    assert "Target: 40 (the annual target)." in context_of(page, cases)[0]
    assert "Target this quarter: 10." in context_of(page, sessions)[0]


def test_later_quarters_add_up_what_was_reported_before(partner, project):
    referrals, cases, sessions = project.measures
    reported(project, 1, "approved", "1200", "30", "9")
    reported(project, 2, "submitted", "1300.0", "35", None)
    page = partner.get(url(project, 3, "outputs")).text
    hint, to_date = context_of(page, referrals)
    assert "Last quarter: 1,300." in hint and to_date == "2,500"
    assert context_of(page, cases) == (context_of(page, cases)[0], "35")  # a level: the latest quarter's
    assert "Last quarter: —." in context_of(page, sessions)[0]  # Q2 reported no sessions
    assert "Target this quarter: 14." in context_of(page, sessions)[0]
    assert context_of(page, sessions)[1] == "9"


def test_a_draft_quarter_before_is_not_counted_but_what_is_typed_is(partner, project):
    referrals, cases, _ = project.measures
    reported(project, 1, "approved", "100", "30")
    reported(project, 2, "draft", "999", "99")
    data = {"version": "0", f"m{referrals.id}": "25", f"m{cases.id}": "not a number"}
    page = partner.post(url(project, 3, "outputs"), data=data).text  # refused: the page again, with what was typed
    assert context_of(page, referrals)[1] == "125"
    assert context_of(page, cases)[1] == "30"  # an invalid figure counts as not typed
    assert "Last quarter: —." in context_of(page, referrals)[0]  # Q2 is a draft: not reported


def test_a_saved_draft_counts_when_the_page_is_drawn_again(partner, project):
    referrals, cases, sessions = project.measures
    reported(project, 3, "approved", "40", "12", "14")
    data = {"version": "0", f"m{referrals.id}": "2.5e3", f"m{cases.id}": "", f"m{sessions.id}": ""}
    assert partner.post(url(project, 4, "outputs"), data=data).status_code == 422
    data[f"m{referrals.id}"] = "1000"
    assert partner.post(url(project, 4, "outputs"), data={**data, "save_later": "1"}).status_code == 302
    page = partner.get(url(project, 4, "outputs")).text
    assert context_of(page, referrals)[1] == "1,040"
    assert context_of(page, cases)[1] == "12"
    assert "of an annual target of 800" in page


# -- a quarter not open yet ----------------------------------------------------------------------


@pytest.fixture
def next_year_project(two_orgs, make_year, make_stream, make_project):
    year = make_year(current_start_year() + 1)
    return make_project(two_orgs["davss"], make_stream(year), "Next year", measures=[{"name": "Referrals"}])


def test_a_quarter_not_open_yet_says_when_it_opens(partner, next_year_project):
    start = current_start_year() + 1
    page = partner.get(url(next_year_project, 1))
    assert page.status_code == 200
    assert "The Q1 return is not open yet" in page.text
    assert f"It opens on 1 April {start}" in page.text and "due by" in page.text
    for section in ("outputs", "spend", "narrative", "check"):
        assert "not open yet" in partner.get(url(next_year_project, 2, section)).text


def test_nothing_can_be_sent_to_a_quarter_not_open_yet(partner, next_year_project):
    measure = next_year_project.measures[0]
    response = partner.post(url(next_year_project, 1, "outputs"), data={"version": "0", f"m{measure.id}": "5"})
    assert response.status_code == 409 and "not open yet" in response.text
    assert db.session.scalar(select(func.count()).select_from(MonitoringReturn)) == 0


def test_another_organisations_quarter_and_a_fifth_quarter_are_still_not_found(app, login, two_orgs, next_year_project):
    other = app.test_client()
    login(other, two_orgs["partner_b"])
    assert other.get(url(next_year_project, 1)).status_code == 404
    assert other.post(url(next_year_project, 1, "outputs"), data={"version": "0"}).status_code == 404
    own = app.test_client()
    login(own, two_orgs["partner_a"])
    assert own.get(url(next_year_project, 5)).status_code == 404


# -- check your answers: the year to date, and "Change" comes back --------------------------------


def test_check_answers_shows_the_year_to_date_and_change_comes_back_to_it(partner, two_orgs):
    from tests.test_returns_safety import complete

    project = two_orgs["davss_project"]
    reported(project, 1, "approved", "100")
    the_return = complete(partner, project, 2)
    page = partner.get(url(project, 2, "check")).text
    assert "Year to date: 164 people" in page  # 100 approved in Q1 + 64 now
    assert "Year to date: £5,000.00 of the £10,000.00 award" in page
    measure = project.measures[0]
    change = re.search(r'href="([^"]*)#m(\d+)">Change<span class="govuk-visually-hidden"> referrals', page)
    assert change and int(change.group(2)) == measure.id
    link = change.group(1).replace("&amp;", "&")
    assert link == f"{url(project, 2, 'outputs')}?from=check"
    assert f'id="m{measure.id}"' in partner.get(link).text  # the fragment names the field on the page
    data = {"version": str(the_return.version), f"m{measure.id}": "70", "save_continue": "Save and continue"}
    response = partner.post(link, data=data)
    assert response.status_code == 302 and response.headers["Location"].endswith(url(project, 2, "check"))
    # Without coming from Check your answers, Save and continue goes on to the next section as before.
    db.session.expire_all()
    data["version"] = str(db.session.get(MonitoringReturn, the_return.id).version)
    response = partner.post(url(project, 2, "outputs"), data=data)
    assert response.headers["Location"].endswith(url(project, 2, "spend"))


# -- the spend page: the award, spend to date, the plan and what the rule will ask --------------------


def spend_page(partner, project, quarter: int) -> str:
    return " ".join(partner.get(url(project, quarter, "spend")).text.split())


def test_the_spend_rule_follows_the_projects_own_profile(partner, two_orgs):
    from portal.services.returns import spend_explanation_reason

    project = two_orgs["davss_project"]  # award £10,000
    project.spend_profile = [100_000, 500_000, 200_000, 200_000]
    db.session.commit()
    # £1,000 in Q1 is on this project's plan, though far below a quarter of the award.
    assert spend_explanation_reason(project, 1, 100_000) is None
    assert "away from the expected £1,000.00" in spend_explanation_reason(project, 1, 130_000)
    page = spend_page(partner, project, 1)
    assert "Planned spend for those quarters and this one</dt>" in page and "£1,000.00</dd>" in page
    assert "A spend this quarter from £800.00 to £1,200.00 needs no explanation." in page


def test_the_spend_page_says_what_will_need_explaining_after_earlier_quarters(partner, two_orgs):
    project = two_orgs["davss_project"]  # award £10,000, no profile: £2,500 a quarter
    reported(project, 1, "approved", "10")  # £2,500 spent
    page = spend_page(partner, project, 2)
    assert re.search(r"Spend reported in other quarters</dt>\s*<dd[^>]*>£2,500.00 \(1 quarter\)", page)
    assert "(a quarter of the award each)" in page and "£5,000.00" in page
    assert "A spend this quarter from £1,500.00 to £3,500.00 needs no explanation." in page
    # At the edges: £3,500.00 needs none, a penny more does.
    from portal.services.returns import spend_explanation_reason

    assert spend_explanation_reason(project, 2, 350_000) is None
    assert spend_explanation_reason(project, 2, 350_001) is not None
    assert spend_explanation_reason(project, 2, 150_000) is None
    assert spend_explanation_reason(project, 2, 149_999) is not None
