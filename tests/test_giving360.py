"""360Giving: the year's grants package validates against the vendored schema, and the flat CSV uses the
standard's column titles with cells neutralised against formula injection."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from portal.config import Config
from portal.extensions import db
from portal.models import FinancialYear, FundingStream, Organisation, Project, User
from portal.services import giving360

# A copy of ../shared/360giving/ (schema 1.4.3, CC BY 4.0 by 360Giving), so the tests run from any clone.
SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "360giving"
DEMO_PASSWORD = "demo-password-for-tests"
PREFIX = Config.GIVING_PREFIX
JSON_URL = "/finance/2021-22/360giving.json"
CSV_URL = "/finance/2021-22/360giving.csv"
# The 2021-22 annual report's five awards, in the order the demo creates them (project id order).
DEMO_GRANTS = [
    ("DAVSS", "Support for Medium & High Risk Victims - Domestic Abuse", Decimal("10000.00")),
    ("Kenward", "Youth Diversionary & Targeted Youth Project against substance misuse", Decimal("10000.00")),
    ("CDAP", "Support males through the CDAP programme", Decimal("1500.00")),
    ("Sevenoaks CSU", "CSU Crime Reduction initiatives", Decimal("312.00")),
    ("PAS", "Training sessions on Cyber crime and stalking", Decimal("1000.00")),
]
LOCAL_ORG_IDS = {
    "DAVSS": f"{PREFIX}-org-DAVSS",
    "Kenward": f"{PREFIX}-org-Kenward",
    "CDAP": f"{PREFIX}-org-CDAP",
    "Sevenoaks CSU": f"{PREFIX}-org-Sevenoaks-CSU",
    "PAS": f"{PREFIX}-org-PAS",
}
RFC3339_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


# -- the validator ----------------------------------------------------------------------------------


def _load(name: str) -> dict:
    path = SCHEMA_DIR / name
    assert path.exists(), f"the vendored 360Giving schema is missing: {path}"
    return json.loads(path.read_text(encoding="utf-8"))


def _format_checker() -> FormatChecker:
    """The standard's dates are oneOf a YYYY-MM-DD pattern and format date-time, so date-time must really
    be checked (else a plain date matches both and oneOf fails). jsonschema checks it only with the
    optional rfc3339-validator, so this checker brings its own RFC 3339 test, and a basic one for uri."""
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339_DATE_TIME.match(value):
            return False
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # ValueError for 2021-02-30T…
        return True

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and (parts.netloc or parts.path)) and not re.search(r"\s", value)

    return checker


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    """The package schema with its $ref to the grant schema resolved from the local file: no network.
    The files declare $schema with http://, so the dialect is given rather than detected."""
    package_schema = _load("360-giving-package-schema.json")
    grant_schema = _load("360-giving-schema.json")
    grant_resource = DRAFT202012.create_resource(grant_schema)
    reference = package_schema["properties"]["grants"]["items"]["$ref"]  # points at 1.4.2 by URL
    registry = Registry().with_resources([(reference, grant_resource), (grant_schema["$id"], grant_resource)])
    return Draft202012Validator(package_schema, registry=registry, format_checker=_format_checker())


def problems(validator: Draft202012Validator, package: dict) -> list[str]:
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(package)]


# -- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
def app_config():
    return {"DEMO_PASSWORD": DEMO_PASSWORD}


@pytest.fixture
def demo(runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    return db.session.scalar(select(FinancialYear).where(FinancialYear.start_year == 2021))


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


@pytest.fixture
def finance_client(app, demo, login):
    client = app.test_client()
    login(client, user("finance@demo.test"))
    return client


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    text = response.data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def schema_title(path: tuple[str, ...]) -> str:
    """The flat column title the standard gives a field: the schema's titles joined with ':'."""
    grant_schema = _load("360-giving-schema.json")
    defs = grant_schema["$defs"]

    def resolve(node: dict) -> dict:
        return defs[node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node

    field = grant_schema["properties"][path[0]]
    titles = [field.get("title") or resolve(field)["title"]]
    if len(path) > 1:
        item = resolve(field["items"])
        titles.append(item["properties"][path[1]]["title"])
    return ":".join(titles)


# -- the JSON package -------------------------------------------------------------------------------


def test_the_demo_years_package_validates_against_the_vendored_schema(finance_client, demo, validator):
    response = finance_client.get(JSON_URL)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == "attachment; filename=360giving-2021-22.json"
    package = json.loads(response.data)
    assert problems(validator, package) == []
    assert package["version"] == "1.4"
    assert package["identifier"] == f"{PREFIX}-2021-22"
    assert package["publisher"] == {"identifier": "GB-LAE-SEV", "name": "Sevenoaks District Council"}
    assert package["license"] == Config.GIVING_LICENSE


def test_one_grant_per_project_with_exact_amounts_ids_and_org_ids(finance_client, demo):
    package = json.loads(finance_client.get(JSON_URL).data, parse_float=Decimal)
    projects = list(db.session.scalars(select(Project).where(Project.year_id == demo.id).order_by(Project.id)))

    grants = package["grants"]
    assert len(grants) == 5
    assert [grant["amountAwarded"] for grant in grants] == [amount for _, _, amount in DEMO_GRANTS]
    assert sum(grant["amountAwarded"] for grant in grants) == Decimal("22812.00")
    assert [grant["id"] for grant in grants] == [f"{PREFIX}-{project.id}" for project in projects]
    for grant, (short_name, name, _) in zip(grants, DEMO_GRANTS, strict=True):
        organisation = db.session.scalar(select(Organisation).where(Organisation.short_name == short_name))
        assert grant["title"] == name
        assert grant["currency"] == "GBP"
        assert grant["awardDate"] == "2021-04-01"
        assert grant["plannedDates"] == [{"startDate": "2021-04-01", "endDate": "2022-03-31"}]
        # No demo organisation has a registered number: each gets the publisher's own identifier.
        assert grant["recipientOrganization"] == [{"id": LOCAL_ORG_IDS[short_name], "name": organisation.name}]
        assert grant["fundingOrganization"] == [{"id": "GB-LAE-SEV", "name": "Sevenoaks District Council"}]
        assert grant["grantProgramme"][0]["title"] == "PCC Crime Reduction Grant"
        assert grant["beneficiaryLocation"] == [{"name": "Sevenoaks", "geoCode": "E07000111", "geoCodeType": "NMD"}]
        assert name in grant["description"]
        assert organisation.name in grant["description"]


def test_amounts_are_written_exactly_from_pence(finance_client, demo, validator):
    """No float arithmetic: an award of 1234567p is 12345.67 in the file's text, 1p is 0.01."""
    davss = db.session.scalar(select(Organisation).where(Organisation.short_name == "DAVSS"))
    stream = db.session.scalar(select(FundingStream).where(FundingStream.year_id == demo.id))
    for name, pence in (("Odd pence", 1_234_567), ("One penny", 1)):
        db.session.add(
            Project(organisation=davss, year=demo, funding_stream=stream, name=name, amount_pence=pence, actions=[])
        )

    response = finance_client.get(JSON_URL)

    assert '"amountAwarded": 10000.00,' in response.text
    assert '"amountAwarded": 12345.67,' in response.text
    assert '"amountAwarded": 0.01,' in response.text
    package = json.loads(response.data, parse_float=Decimal)
    assert [grant["amountAwarded"] for grant in package["grants"][-2:]] == [Decimal("12345.67"), Decimal("0.01")]
    assert problems(validator, json.loads(response.data)) == []


def test_a_varied_award_is_published_at_its_current_amount(finance_client, demo):
    project = db.session.scalar(select(Project).where(Project.year_id == demo.id).order_by(Project.id))
    project.amount_pence = 950_050

    package = json.loads(finance_client.get(JSON_URL).data, parse_float=Decimal)

    assert package["grants"][0]["amountAwarded"] == Decimal("9500.50")


def test_org_ids_come_from_charity_then_company_number(app, make_org):
    cases = [
        ({"charity_number": "1 234 567"}, "GB-CHC-1234567"),
        ({"charity_number": "sc012345"}, "GB-SC-SC012345"),
        ({"charity_number": "1234567", "company_number": "01234567"}, "GB-CHC-1234567"),
        ({"company_number": "1234567"}, "GB-COH-01234567"),
        ({"company_number": "SC123456"}, "GB-COH-SC123456"),
        ({"charity_number": " ", "company_number": None}, f"{PREFIX}-org-Kent-Youth"),
    ]
    for number, (fields, expected) in enumerate(cases):
        organisation = make_org(f"Kent Youth/{number}" if number < len(cases) - 1 else "Kent Youth", **fields)
        assert giving360.organisation_id(organisation, PREFIX) == expected, fields


def test_registered_numbers_are_published_with_the_recipient(finance_client, demo, validator):
    kenward = db.session.scalar(select(Organisation).where(Organisation.short_name == "Kenward"))
    kenward.charity_number = "328112"
    kenward.company_number = "2479018"

    package = json.loads(finance_client.get(JSON_URL).data)

    assert package["grants"][1]["recipientOrganization"] == [
        {"id": "GB-CHC-328112", "name": "Kenward Trust", "charityNumber": "328112", "companyNumber": "2479018"}
    ]
    assert problems(validator, package) == []


def test_a_description_is_published_when_the_project_has_one(finance_client, demo):
    project = db.session.scalar(select(Project).where(Project.year_id == demo.id).order_by(Project.id))
    project.description = "Advocacy for victims assessed as medium or high risk."

    package = json.loads(finance_client.get(JSON_URL).data)

    assert package["grants"][0]["description"] == "Advocacy for victims assessed as medium or high risk."
    # Without one, a sentence is built from the project's name, organisation, stream and priority.
    assert package["grants"][1]["description"] == (
        "Youth Diversionary & Targeted Youth Project against substance misuse: a project run by Kenward Trust, "
        "funded from the PCC Crime Reduction Grant (Kent Police and Crime Commissioner) in the 2021-22 "
        "financial year for the partnership's priority Substance Misuse."
    )


# -- the validator is live --------------------------------------------------------------------------


def test_the_validator_refuses_a_broken_package(app, demo, validator):
    package = json.loads(giving360.dumps(giving360.grants_package(demo, app.config)))
    assert problems(validator, package) == []

    for field in ("id", "title", "description", "currency", "amountAwarded", "awardDate", "fundingOrganization"):
        broken = copy.deepcopy(package)
        del broken["grants"][0][field]
        with pytest.raises(ValidationError):
            validator.validate(broken)

    breakages = [
        lambda p: p["grants"][0].update(amountAwarded="10000.00"),  # a string, not a number
        lambda p: p["grants"][0].update(awardDate="01/04/2021"),
        lambda p: p["grants"][0].update(awardDate="2021-04-01T25:00:00Z"),
        lambda p: p["grants"][0].update(currency="£"),
        lambda p: p["grants"][0]["recipientOrganization"][0].pop("id"),
        lambda p: p["grants"][0].update(recipientOrganization=[]),
        lambda p: p.update(grants=[]),
        lambda p: p.update(version="1.4.3"),
        lambda p: p["grants"].append(copy.deepcopy(p["grants"][0])),  # grants are unique
    ]
    for breakage in breakages:
        broken = copy.deepcopy(package)
        breakage(broken)
        assert problems(validator, broken), broken

    # A full date-time is a valid award date too.
    package["grants"][0]["awardDate"] = "2021-04-01T09:30:00+01:00"
    assert problems(validator, package) == []


# -- the CSV ----------------------------------------------------------------------------------------


def test_csv_uses_the_standards_column_titles_one_row_per_grant(finance_client, demo):
    response = finance_client.get(CSV_URL)
    rows = csv_rows(response)

    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=360giving-2021-22.csv"
    header, *grants = rows
    assert header == [schema_title(path) for _, path in giving360.CSV_COLUMNS]
    assert header[:6] == ["Identifier", "Title", "Description", "Currency", "Amount Awarded", "Award Date"]
    assert "Beneficiary Location:Geographic Code Type" in header
    assert len(grants) == 5
    column = {title: index for index, title in enumerate(header)}
    projects = list(db.session.scalars(select(Project).where(Project.year_id == demo.id).order_by(Project.id)))
    for row, project, (short_name, name, amount) in zip(grants, projects, DEMO_GRANTS, strict=True):
        assert row[column["Identifier"]] == f"{PREFIX}-{project.id}"
        assert row[column["Title"]] == name
        assert row[column["Currency"]] == "GBP"
        assert row[column["Amount Awarded"]] == format(amount, "f")
        assert row[column["Award Date"]] == "2021-04-01"
        assert row[column["Planned Dates:Start Date"]] == "2021-04-01"
        assert row[column["Planned Dates:End Date"]] == "2022-03-31"
        assert row[column["Recipient Org:Identifier"]] == LOCAL_ORG_IDS[short_name]
        assert row[column["Recipient Org:Charity Number"]] == ""
        assert row[column["Funding Org:Identifier"]] == "GB-LAE-SEV"
        assert row[column["Funding Org:Name"]] == "Sevenoaks District Council"
        assert row[column["Grant Programme:Title"]] == "PCC Crime Reduction Grant"
        assert row[column["Beneficiary Location:Name"]] == "Sevenoaks"
        assert row[column["Beneficiary Location:Geographic Code"]] == "E07000111"
        assert row[column["Beneficiary Location:Geographic Code Type"]] == "NMD"


def test_csv_cells_are_neutralised_against_formula_injection(finance_client, demo, validator):
    davss = db.session.scalar(select(Organisation).where(Organisation.short_name == "DAVSS"))
    stream = db.session.scalar(select(FundingStream).where(FundingStream.year_id == demo.id))
    db.session.add(
        Project(
            organisation=davss,
            year=demo,
            funding_stream=stream,
            name='=HYPERLINK("x")',
            description="-2+3",
            amount_pence=100,
            actions=[],
        )
    )

    header, *grants = csv_rows(finance_client.get(CSV_URL))

    column = {title: index for index, title in enumerate(header)}
    assert len(grants) == 6
    assert grants[-1][column["Title"]] == '\'=HYPERLINK("x")'
    assert grants[-1][column["Description"]] == "'-2+3"
    assert grants[-1][column["Amount Awarded"]] == "1.00"
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in grants for cell in row)
    # The JSON is data, not a spreadsheet: it keeps the text as it is, and still validates.
    package = json.loads(finance_client.get(JSON_URL).data)
    assert package["grants"][-1]["title"] == '=HYPERLINK("x")'
    assert problems(validator, package) == []


def test_dumps_writes_decimals_as_numbers():
    value = {"a": Decimal("10000.00"), "b": [Decimal("0.01"), 1, '£5 "quoted"', None, True], "c": {}, "d": []}
    text = giving360.dumps(value)
    assert json.loads(text, parse_float=Decimal) == value
    assert '"a": 10000.00' in text
    with pytest.raises(ValueError):
        giving360.dumps({"a": Decimal("NaN")})


# -- who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [JSON_URL, CSV_URL])
@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("davss@demo.test", 404),
        ("kenward@demo.test", 404),
        ("pas@demo.test", 404),
        ("csu@demo.test", 200),
        ("finance@demo.test", 200),
        ("admin@demo.test", 200),
    ],
)
def test_who_may_download(app, demo, login, url, email, status):
    client = app.test_client()
    login(client, user(email))
    assert client.get(url).status_code == status


@pytest.mark.parametrize("url", [JSON_URL, CSV_URL])
def test_signed_out_visitors_are_sent_to_sign_in(app, demo, url):
    response = app.test_client().get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


@pytest.mark.parametrize("label", ["2099-00", "2030-31", "not-a-year", "2021-23"])
@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_unknown_year_or_year_without_grants_is_404(finance_client, make_year, label, suffix):
    make_year(2030)  # set up, but with no projects: nothing a 360Giving package could hold
    assert finance_client.get(f"/finance/{label}/360giving.{suffix}").status_code == 404
