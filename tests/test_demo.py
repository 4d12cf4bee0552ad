"""`flask demo load`: the partnership's published figures, an illustrative current year and six accounts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.calendar import current_start_year, uk_today, year_label
from portal.extensions import db
from portal.models import FinancialYear, MonitoringReturn, Organisation, Project, User
from portal.services.demo import DEMO_DIR, current_year_text
from portal.services.year_import import import_year

DEMO_PASSWORD = "demo-password-for-tests"
ACCOUNTS = {
    "davss@demo.test": ({"partner"}, "DAVSS"),
    "kenward@demo.test": ({"partner"}, "Kenward"),
    "pas@demo.test": ({"partner"}, "PAS"),
    "csu@demo.test": ({"csu"}, None),
    "finance@demo.test": ({"finance"}, None),
    "admin@demo.test": ({"admin"}, None),
}
HOMES = {"partner": "/partner/", "csu": "/csu/", "finance": "/finance/", "admin": "/admin/"}
GENERATED_PASSWORD = re.compile(r"shown once; set DEMO_PASSWORD to choose it\): (\S+)")
DAVSS_PROJECT = "Support for Medium & High Risk Victims - Domestic Abuse"
PAS_PROJECT = "Stalking advocacy support service"
HISTORIC_FILES = ["2019-20.yaml", "2020-21.yaml", "2021-22.yaml"]


@pytest.fixture
def app_config():
    return {"DEMO_PASSWORD": DEMO_PASSWORD}


@pytest.fixture
def loaded(runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    return result


def snapshot() -> dict[str, list[tuple]]:
    return {
        table.name: [tuple(row) for row in db.session.execute(select(table).order_by(*table.primary_key.columns))]
        for table in db.Model.metadata.sorted_tables
    }


def sign_in(client, email: str, password: str):
    return client.post("/sign-in", data={"email": email, "password": password})


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def returns_of(short_name: str, project_name: str, label: str) -> dict[int, MonitoringReturn]:
    start = int(label[:4])
    found = db.session.scalars(
        select(MonitoringReturn)
        .join(MonitoringReturn.project)
        .join(Project.organisation)
        .join(Project.year)
        .where(Organisation.short_name == short_name, Project.name == project_name, FinancialYear.start_year == start)
    )
    return {mreturn.quarter: mreturn for mreturn in found}


def values(mreturn: MonitoringReturn) -> dict[str, Decimal]:
    return {value.measure.name: value.value for value in mreturn.values}


def figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([\w-]+)">([^<]+)<', html))


# -- loading --------------------------------------------------------------------------------------


def test_demo_load_creates_the_years_and_accounts(loaded):
    current = year_label(current_start_year())
    assert f"Demo loaded: years 2019-20, 2020-21, 2021-22, {current}." in loaded.stdout
    assert "Password for every demo account: the value of DEMO_PASSWORD" in loaded.stdout
    assert DEMO_PASSWORD not in loaded.output
    years = db.session.scalars(select(FinancialYear.start_year).order_by(FinancialYear.start_year)).all()
    assert years == [2019, 2020, 2021, current_start_year()]
    for email, (roles, short_name) in ACCOUNTS.items():
        assert email in loaded.stdout
        account = user(email)
        assert account is not None, email
        assert account.roles == roles
        assert (account.organisation.short_name if account.organisation else None) == short_name
        assert account.password_hash.startswith("$argon2id$")
    assert db.session.scalar(select(User.id).where(User.email.not_in(ACCOUNTS))) is None


@pytest.mark.parametrize("email", list(ACCOUNTS))
def test_demo_accounts_sign_in_with_demo_password(loaded, client, email):
    response = sign_in(client, email, DEMO_PASSWORD)

    assert response.status_code == 302
    (role,) = ACCOUNTS[email][0]
    assert response.headers["Location"] == HOMES[role]
    assert client.get(HOMES[role]).status_code == 200


def test_without_demo_password_a_random_one_is_printed_once(app, runner):
    app.config["DEMO_PASSWORD"] = None

    result = runner.invoke(args=["demo", "load"])

    assert result.exit_code == 0, result.output
    printed = GENERATED_PASSWORD.findall(result.stdout)
    assert len(printed) == 1
    password = printed[0]
    assert len(password) >= 12
    assert password != DEMO_PASSWORD
    assert sign_in(app.test_client(), "davss@demo.test", password).status_code == 302
    assert sign_in(app.test_client(), "admin@demo.test", DEMO_PASSWORD).status_code == 422

    # Loading again creates no account, so no new password is printed: the first one still works.
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0, again.output
    assert GENERATED_PASSWORD.search(again.stdout) is None
    assert "as printed when the demo was first loaded" in again.stdout
    assert sign_in(app.test_client(), "admin@demo.test", password).status_code == 302


def test_demo_load_twice_changes_nothing(loaded, runner):
    before = snapshot()

    again = runner.invoke(args=["demo", "load"])

    assert again.exit_code == 0, again.output
    assert snapshot() == before


def test_if_empty_on_a_loaded_database_loads_nothing(loaded, runner):
    before = snapshot()

    result = runner.invoke(args=["demo", "load", "--if-empty"])

    assert result.exit_code == 0, result.output
    assert "the database already holds data; nothing loaded" in result.stdout
    assert "Demo loaded" not in result.stdout
    assert snapshot() == before


def test_if_empty_on_an_empty_database_loads(runner):
    result = runner.invoke(args=["demo", "load", "--if-empty"])

    assert result.exit_code == 0, result.output
    assert "Demo loaded" in result.stdout
    assert len(db.session.scalars(select(User)).all()) == 6


# -- the figures ----------------------------------------------------------------------------------


def test_finance_home_for_2021_22(loaded, client):
    assert sign_in(client, "finance@demo.test", DEMO_PASSWORD).status_code == 302

    page = client.get("/finance/2021-22/")

    assert page.status_code == 200
    assert "PCC Crime Reduction Grant" in page.text
    assert "£34,218.00" in page.text
    assert "£22,812.00" in page.text
    assert "£11,406.00" in page.text
    assert figures(page.text) == {
        "total": "£34,218.00",
        "awarded": "£22,812.00",
        "unallocated": "£11,406.00",
        "paid": "£0.00",  # nothing is paid in the demo: the seeds give no payment dates
        "to-pay": "£22,812.00",
        "spend": "£0.00",  # no 2021-22 return is in the seeds
    }
    assert "Over-allocated" not in page.text


def test_2021_22_has_the_five_projects(loaded):
    projects = db.session.execute(
        select(Organisation.short_name, Project.amount_pence)
        .join(Project.organisation)
        .join(Project.year)
        .where(FinancialYear.start_year == 2021)
        .order_by(Organisation.short_name)
    ).all()
    assert projects == [
        ("CDAP", 150_000),
        ("DAVSS", 1_000_000),
        ("Kenward", 1_000_000),
        ("PAS", 100_000),
        ("Sevenoaks CSU", 31_200),
    ]


def test_davss_returns_are_approved_with_the_seed_figures(loaded):
    earlier = returns_of("DAVSS", DAVSS_PROJECT, "2019-20")
    later = returns_of("DAVSS", DAVSS_PROJECT, "2020-21")

    assert sorted(earlier) == [3, 4]
    assert sorted(later) == [1, 2]
    for mreturn in [*earlier.values(), *later.values()]:
        assert mreturn.status == "approved"
        assert len(mreturn.revisions) == 1
    assert values(earlier[3])["Referrals"] == 234
    assert values(earlier[3]) == {
        "Referrals": 234,
        "Male referrals": 18,
        "Children involved": 303,
        "Helpline calls": 1172,
        "Volunteer case work hours": 4683,
        "Volunteer hours total": 9204,
    }
    assert values(earlier[4])["Referrals"] == 204
    assert values(later[1])["Referrals"] == 203
    assert values(later[2])["Referrals"] == 274
    assert returns_of("DAVSS", DAVSS_PROJECT, "2021-22") == {}


def test_pas_returns_are_approved_with_the_seed_figures(loaded):
    found = returns_of("PAS", PAS_PROJECT, "2020-21")

    assert sorted(found) == [1, 2, 3, 4]
    assert all(mreturn.status == "approved" for mreturn in found.values())
    high_risk = [values(found[quarter])["High risk"] for quarter in (1, 2, 3, 4)]
    assert high_risk == [6, 32, 53, 43]
    assert sum(high_risk) == 134
    assert [values(found[quarter])["Referrals from West Kent"] for quarter in (1, 2, 3, 4)] == [49, 73, 89, 73]


# -- illustrative data and the banner -------------------------------------------------------------


def test_every_demo_year_is_illustrative_and_pages_show_the_banner(loaded, client):
    years = db.session.scalars(select(FinancialYear)).all()
    assert len(years) == 4
    assert all(year.illustrative for year in years)
    assert all(year.illustrative_note for year in years)

    assert "Demo data" in client.get("/sign-in").text
    assert sign_in(client, "csu@demo.test", DEMO_PASSWORD).status_code == 302
    assert "Demo data" in client.get("/csu/").text


def test_no_banner_without_illustrative_years(make_year, make_user, client, login):
    make_year(2021)
    login(client, make_user("csu@council.example", ("csu",)))

    assert "Demo data" not in client.get("/sign-in").text
    assert "Demo data" not in client.get("/csu/").text


def test_current_year_has_a_quarter_open_for_kenward(loaded, client):
    assert sign_in(client, "kenward@demo.test", DEMO_PASSWORD).status_code == 302
    year = db.session.scalar(select(FinancialYear).where(FinancialYear.start_year == current_start_year()))
    today = uk_today()
    (current_quarter,) = [q.number for q in year.quarters if q.start <= today <= q.end]

    page = client.get("/partner/")

    assert page.status_code == 200
    assert f"Your projects in {year.label}" in page.text
    assert "Youth Diversionary &amp; Targeted Youth Project against substance misuse" in page.text
    assert "Domestic Abuse Volunteer Support Services" not in page.text
    statuses = dict(re.findall(r">Q(\d)</th>\s*<td[^>]*>[^<]*</td>\s*<td[^>]*>(.*?)</td>", page.text, re.S))
    assert sorted(statuses) == ["1", "2", "3", "4"]
    open_quarters = [number for number, cell in statuses.items() if "Opens" not in cell]
    assert open_quarters
    assert "Not started" in statuses[str(current_quarter)]


def test_current_year_keeps_only_returns_of_ended_quarters(loaded):
    year = db.session.scalar(select(FinancialYear).where(FinancialYear.start_year == current_start_year()))
    today = uk_today()
    quarters = db.session.scalars(
        select(MonitoringReturn.quarter).join(MonitoringReturn.project).where(Project.year_id == year.id)
    ).all()
    assert all(year.quarter(quarter).end < today for quarter in quarters)


# -- the files on their own -----------------------------------------------------------------------


@pytest.mark.parametrize("name", HISTORIC_FILES)
def test_each_demo_file_imports_on_its_own(runner, name):
    result = runner.invoke(args=["year", "import", str(DEMO_DIR / name)])

    assert result.exit_code == 0, result.output
    assert f"{name.removesuffix('.yaml')}: imported" in result.stdout
    assert db.session.scalar(select(FinancialYear.illustrative)) is True


def test_every_demo_file_is_accounted_for():
    files = sorted(path.name for path in DEMO_DIR.glob("*.yaml"))
    assert files == sorted([*HISTORIC_FILES, "current-year.yaml"])


def test_current_year_template_imports_on_its_own(app):
    summary = import_year(current_year_text())
    db.session.commit()

    assert summary.year_label == year_label(current_start_year())
    assert summary.created["project"] == 5
