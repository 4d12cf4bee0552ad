"""`flask year import FILE`: validate the whole file, write nothing when anything is wrong, update by natural key."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    AwardVariation,
    FinancialYear,
    FundingStream,
    MeasureValue,
    MonitoringReturn,
    Organisation,
    OutputMeasure,
    Priority,
    Project,
    ReturnRevision,
)
from portal.models.types import utcnow
from portal.services.year_import import YearImportError, import_year

DAVSS_PROJECT = "Support for Medium & High Risk Victims - Domestic Abuse"
KENWARD_PROJECT = "Youth Diversionary Project"

VALID = """\
financial_year: "2021-22"
return_due_days: 14
funding_streams:
  - name: PCC Crime Reduction Grant
    funder: Kent Police and Crime Commissioner
    amount: 34218.00
priorities:
  - Serious and Acquisitive Crime
  - Domestic Abuse
organisations:
  - short_name: DAVSS
    name: Domestic Abuse Volunteer Support Services
    charity_number: "1234567"
    company_number: null
  - short_name: Kenward
    name: Kenward Trust
projects:
  - organisation: DAVSS
    name: Support for Medium & High Risk Victims - Domestic Abuse
    funding_stream: PCC Crime Reduction Grant
    amount: 10000.00
    priority: Domestic Abuse
    actions: ["3.2", "3.5"]
    measures:
      - name: Referrals received
        unit: people
        definition: New referrals accepted in the quarter
        combine: sum
        annual_target: 800
        quarterly_targets: [200, 200, 200, 200]
      - name: Volunteer hours
        unit: hours
        combine: sum
  - organisation: Kenward
    name: Youth Diversionary Project
    funding_stream: PCC Crime Reduction Grant
    amount: 12812.50
    priority: Serious and Acquisitive Crime
    measures:
      - name: Young people worked with
        unit: people
        combine: latest
returns:
  - organisation: DAVSS
    project: Support for Medium & High Risk Victims - Domestic Abuse
    quarter: 3
    spend: 2500.00
    values:
      Referrals received: 234
      Volunteer hours: 120.5
"""

EXTRA_DAVSS_PROJECT = """\
  - organisation: DAVSS
    name: Support for Medium & High Risk Victims - Domestic Abuse
    funding_stream: PCC Crime Reduction Grant
    amount: 500.00
returns:
"""


# -- helpers --------------------------------------------------------------------------------------


def edit(text: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur exactly once in the year file"
        text = text.replace(old, new)
    return text


def write(tmp_path, text: str, name: str = "year.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_import(runner, path):
    return runner.invoke(args=["year", "import", str(path)])


def output(result) -> str:
    return result.stdout + result.stderr


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, all columns, in primary-key order."""
    return {
        table.name: [tuple(row) for row in db.session.execute(select(table).order_by(*table.primary_key.columns))]
        for table in db.Model.metadata.sorted_tables
    }


def counts() -> dict[str, int]:
    models = (
        FinancialYear,
        FundingStream,
        Priority,
        Organisation,
        Project,
        OutputMeasure,
        MonitoringReturn,
        MeasureValue,
        ReturnRevision,
        AuditEvent,
    )
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in models}


def project(short_name: str, name: str) -> Project:
    return db.session.scalar(
        select(Project).join(Project.organisation).where(Organisation.short_name == short_name, Project.name == name)
    )


def stream_pence(text: str) -> int:
    import_year(text)
    return db.session.scalar(select(FundingStream.amount_pence))


# -- a valid file ---------------------------------------------------------------------------------


def test_valid_file_imports_every_row_with_exact_pence(runner, tmp_path):
    result = run_import(runner, write(tmp_path, VALID))

    assert result.exit_code == 0, output(result)
    assert "2021-22: imported" in result.stdout
    assert "2 project created" in result.stdout

    year = db.session.scalar(select(FinancialYear))
    assert (year.label, year.return_due_days, year.illustrative, year.closed_at) == ("2021-22", 14, False, None)

    stream = db.session.scalar(select(FundingStream))
    assert (stream.name, stream.funder, stream.amount_pence) == (
        "PCC Crime Reduction Grant",
        "Kent Police and Crime Commissioner",
        3_421_800,
    )
    assert [(p.rank, p.name) for p in year.priorities] == [(1, "Serious and Acquisitive Crime"), (2, "Domestic Abuse")]

    davss = db.session.scalar(select(Organisation).where(Organisation.short_name == "DAVSS"))
    assert (davss.name, davss.charity_number, davss.company_number) == (
        "Domestic Abuse Volunteer Support Services",
        "1234567",
        None,
    )
    assert db.session.scalar(select(Organisation.name).where(Organisation.short_name == "Kenward")) == "Kenward Trust"

    davss_project = project("DAVSS", DAVSS_PROJECT)
    assert davss_project.amount_pence == 1_000_000
    assert davss_project.funding_stream_id == stream.id
    assert davss_project.priority.name == "Domestic Abuse"
    assert davss_project.actions == ["3.2", "3.5"]
    referrals, hours = davss_project.measures
    assert (referrals.name, referrals.unit, referrals.combine, referrals.definition) == (
        "Referrals received",
        "people",
        "sum",
        "New referrals accepted in the quarter",
    )
    assert referrals.annual_target == Decimal(800)
    assert referrals.quarterly_targets == [Decimal(200)] * 4
    assert (hours.name, hours.unit, hours.annual_target, hours.quarterly_targets) == (
        "Volunteer hours",
        "hours",
        None,
        [None] * 4,
    )

    kenward_project = project("Kenward", KENWARD_PROJECT)
    assert kenward_project.amount_pence == 1_281_250
    assert kenward_project.priority.name == "Serious and Acquisitive Crime"
    assert [(m.name, m.combine) for m in kenward_project.measures] == [("Young people worked with", "latest")]

    mreturn = db.session.scalar(select(MonitoringReturn))
    assert (mreturn.project_id, mreturn.quarter, mreturn.status, mreturn.spend_pence) == (
        davss_project.id,
        3,
        "approved",
        250_000,
    )
    assert mreturn.approved_at is not None
    assert {value.measure.name: value.value for value in mreturn.values} == {
        "Referrals received": Decimal(234),
        "Volunteer hours": Decimal("120.5"),
    }
    assert len(mreturn.revisions) == 1
    revision = mreturn.revisions[0]
    assert (revision.number, revision.spend_pence, revision.values) == (
        1,
        250_000,
        {"Referrals received": "234", "Volunteer hours": "120.5"},
    )

    actions = dict(db.session.execute(select(AuditEvent.action, func.count()).group_by(AuditEvent.action)).all())
    assert actions == {
        "financial_year.created": 1,
        "funding_stream.created": 1,
        "priority.created": 2,
        "organisation.created": 2,
        "project.created": 2,
        "output_measure.created": 3,
        "monitoring_return.imported": 1,
    }


def test_valid_file_through_the_service(app):
    summary = import_year(VALID)
    db.session.commit()

    assert summary.year_label == "2021-22"
    assert summary.created["project"] == 2
    assert summary.created["monitoring_return"] == 1
    assert counts()["Project"] == 2


@pytest.mark.parametrize(
    ("written", "pence"),
    [
        ("34218.10", 3_421_810),
        ("0.1", 10),
        ("0.29", 29),  # 0.29 * 100 is 28.999999999999996 as a float
        ("4.35", 435),
        ("1_000.05", 100_005),
        ("34218", 3_421_800),
        ('"34218.10"', 3_421_810),
        ("'0.1'", 10),
        ('"4.35"', 435),
    ],
)
def test_amounts_convert_exactly_to_pence(app, written, pence):
    assert stream_pence(edit(VALID, ("amount: 34218.00", f"amount: {written}"))) == pence


def test_unquoted_amount_imports_exactly_through_the_cli(runner, tmp_path):
    result = run_import(runner, write(tmp_path, edit(VALID, ("amount: 34218.00", "amount: 34218.10"))))

    assert result.exit_code == 0, output(result)
    assert db.session.scalar(select(FundingStream.amount_pence)) == 3_421_810


# -- invalid files: every problem named, nothing written -----------------------------------------

INVALID = {
    "unknown organisation": (
        [("  - organisation: Kenward\n", "  - organisation: Nobody Trust\n")],
        ["projects[1]", "organisation", "Nobody Trust", "not an organisation"],
    ),
    "unknown stream": (
        [
            (
                "    funding_stream: PCC Crime Reduction Grant\n    amount: 12812.50",
                "    funding_stream: Lottery Fund\n    amount: 12812.50",
            )
        ],
        ["projects[1]", "funding_stream", "'Lottery Fund'", "not a funding stream"],
    ),
    "negative amount": (
        [("amount: 12812.50", "amount: -5.00")],
        ["projects[1]", KENWARD_PROJECT, "amount: must not be negative"],
    ),
    "negative quoted amount": (
        [("amount: 34218.00", 'amount: "-1.00"')],
        ["funding_streams[0]", "PCC Crime Reduction Grant", "amount: must not be negative"],
    ),
    "quarter 5": (
        [("quarter: 3", "quarter: 5")],
        ["returns[0]", "/ 5)", "quarter: must be 1, 2, 3 or 4"],
    ),
    "quarter x": (
        [("quarter: 3", "quarter: x")],
        ["returns[0]", "/ x)", "quarter: must be 1, 2, 3 or 4"],
    ),
    "unknown measure in a return": (
        [("Referrals received: 234", "Cups of tea: 3")],
        ["returns[0]", "values", "'Cups of tea'", "not a measure of this project"],
    ),
    "duplicate project": (
        [("returns:\n", EXTRA_DAVSS_PROJECT)],
        ["projects[2]", "name", DAVSS_PROJECT, "listed twice"],
    ),
    "three decimal places": (
        [("amount: 34218.00", "amount: 34218.001")],
        ["funding_streams[0]", "amount", "no more than 2 decimal places"],
    ),
    "three decimal places quoted": (
        [("amount: 10000.00", 'amount: "10000.005"')],
        ["projects[0]", "amount", "no more than 2 decimal places"],
    ),
    "count with decimals": (
        [("Referrals received: 234", "Referrals received: 2.5")],
        ["returns[0]", "values: Referrals received", "whole number"],
    ),
    "missing financial_year": (
        [('financial_year: "2021-22"\n', "")],
        ["financial_year", "is required: write it like 2021-22"],
    ),
    "bad year label": (
        [('financial_year: "2021-22"', 'financial_year: "2021-23"')],
        ["financial_year", "'2021-23' is not a financial year: write it like 2021-22"],
    ),
}


@pytest.mark.parametrize("case", list(INVALID), ids=list(INVALID))
def test_invalid_entry_is_named_and_nothing_is_written(runner, tmp_path, case):
    replacements, expected = INVALID[case]
    before_counts, before = counts(), snapshot()

    result = run_import(runner, write(tmp_path, edit(VALID, *replacements)))

    assert result.exit_code != 0
    assert "not imported, 1 problem(s)" in result.stderr
    for fragment in expected:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"
    assert "imported (" not in result.stdout
    assert counts() == before_counts
    assert snapshot() == before


@pytest.mark.parametrize("case", list(INVALID), ids=list(INVALID))
def test_invalid_entry_through_the_service(app, case):
    replacements, expected = INVALID[case]

    with pytest.raises(YearImportError) as raised:
        import_year(edit(VALID, *replacements))
    db.session.rollback()

    assert len(raised.value.errors) == 1
    for fragment in expected:
        assert fragment in raised.value.errors[0]
    assert set(counts().values()) == {0}


def test_every_problem_in_a_file_is_listed(runner, tmp_path):
    text = edit(
        VALID,
        ("  - organisation: Kenward\n", "  - organisation: Nobody Trust\n"),
        (
            "    funding_stream: PCC Crime Reduction Grant\n    amount: 12812.50",
            "    funding_stream: Lottery Fund\n    amount: -5.00",
        ),
        ("quarter: 3", "quarter: 5"),
        ("amount: 34218.00", "amount: 34218.001"),
    )

    result = run_import(runner, write(tmp_path, text))

    assert result.exit_code == 1
    assert "not imported, 5 problem(s)" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert len(lines) == 5
    assert any("funding_streams[0]" in line and "2 decimal places" in line for line in lines)
    assert any("projects[1]" in line and "organisation: 'Nobody Trust'" in line for line in lines)
    assert any("projects[1]" in line and "funding_stream: 'Lottery Fund'" in line for line in lines)
    assert any("projects[1]" in line and "amount: must not be negative" in line for line in lines)
    assert any("returns[0]" in line and "quarter" in line for line in lines)
    assert set(counts().values()) == {0}


def test_invalid_update_leaves_an_imported_year_as_it_was(runner, tmp_path):
    assert run_import(runner, write(tmp_path, VALID)).exit_code == 0
    before = snapshot()
    text = edit(VALID, ("amount: 12812.50", "amount: 13000.00"), ("quarter: 3", "quarter: 7"))

    result = run_import(runner, write(tmp_path, text, "changed.yaml"))

    assert result.exit_code == 1
    assert "returns[0]" in result.stderr
    assert snapshot() == before
    assert project("Kenward", KENWARD_PROJECT).amount_pence == 1_281_250


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("financial_year: [2021-22\nfunding_streams: []\n", "file: is not valid YAML"),
        ("funding_streams:\n  - name: a\n   funder: b\n", "file: is not valid YAML"),
        ("- 2021-22\n- a list, not a mapping\n", "file: must be a mapping"),
        ("just some text\n", "file: must be a mapping"),
        ("", "file: must be a mapping"),
    ],
    ids=["unclosed list", "bad indentation", "a list", "a string", "empty"],
)
def test_unreadable_file_gives_a_clear_error(runner, tmp_path, text, expected):
    result = run_import(runner, write(tmp_path, text))

    assert result.exit_code == 1
    assert expected in result.stderr
    assert "Traceback" not in output(result)
    assert set(counts().values()) == {0}


def test_file_that_is_not_utf8_is_refused(runner, tmp_path):
    path = tmp_path / "year.yaml"
    path.write_bytes(VALID.replace("Kenward Trust", "Kenward Tr\xfcst").encode("latin-1"))

    result = run_import(runner, path)

    assert result.exit_code == 1
    assert "must be UTF-8 text" in result.stderr
    assert set(counts().values()) == {0}


def test_missing_file_is_refused(runner, tmp_path):
    result = run_import(runner, tmp_path / "nowhere.yaml")

    assert result.exit_code != 0
    assert "nowhere.yaml" in result.stderr
    assert "does not exist" in result.stderr


# -- re-import ------------------------------------------------------------------------------------


def test_reimporting_the_same_file_changes_nothing(runner, tmp_path):
    path = write(tmp_path, VALID)
    assert run_import(runner, path).exit_code == 0
    before = snapshot()

    result = run_import(runner, path)

    assert result.exit_code == 0, output(result)
    assert "2021-22: already up to date, nothing changed" in result.stdout
    assert snapshot() == before


def test_reimport_through_the_service_reports_no_change(app):
    import_year(VALID)
    db.session.commit()
    before = snapshot()

    summary = import_year(VALID)
    db.session.commit()

    assert not summary.changed
    assert snapshot() == before


def test_reimport_with_changes_updates_by_natural_key(runner, tmp_path):
    assert run_import(runner, write(tmp_path, VALID)).exit_code == 0
    kenward_id = project("Kenward", KENWARD_PROJECT).id
    text = edit(
        VALID,
        ("amount: 12812.50", "amount: 13000.00"),
        (
            "        combine: latest\n",
            "        combine: latest\n      - name: Outreach hours\n        unit: hours\n        annual_target: 400\n",
        ),
        (
            "returns:\n",
            "  - organisation: Kenward\n    name: Summer diversion scheme\n"
            "    funding_stream: PCC Crime Reduction Grant\n    amount: 1500.00\nreturns:\n",
        ),
    )

    result = run_import(runner, write(tmp_path, text, "changed.yaml"))

    assert result.exit_code == 0, output(result)
    assert "1 award variation created" in result.stdout  # a changed award is a variation, not an edit
    assert "1 project created" in result.stdout
    assert "1 output measure created" in result.stdout
    assert counts()["FinancialYear"] == 1
    assert counts()["FundingStream"] == 1
    assert counts()["Organisation"] == 2
    assert counts()["Project"] == 3
    assert counts()["MonitoringReturn"] == 1
    assert counts()["ReturnRevision"] == 1
    kenward = project("Kenward", KENWARD_PROJECT)
    assert kenward.id == kenward_id
    assert kenward.amount_pence == 1_300_000
    assert [(m.name, m.annual_target) for m in kenward.measures] == [
        ("Young people worked with", None),
        ("Outreach hours", Decimal(400)),
    ]
    assert project("Kenward", "Summer diversion scheme").amount_pence == 150_000

    varied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "award.varied_by_import")).all()
    assert len(varied) == 1
    assert varied[0].object_id == kenward_id
    assert (varied[0].details["from_pence"], varied[0].details["to_pence"]) == (1_281_250, 1_300_000)
    variation = db.session.scalar(select(AwardVariation).where(AwardVariation.project_id == kenward_id))
    assert (variation.from_pence, variation.to_pence) == (1_281_250, 1_300_000)
    assert variation.reason == "Changed by the year import"

    # And the changed file, imported again, is up to date.
    again = run_import(runner, write(tmp_path, text, "changed.yaml"))
    assert "already up to date" in again.stdout


def test_reimport_updates_organisation_and_stream_in_place(runner, tmp_path):
    assert run_import(runner, write(tmp_path, VALID)).exit_code == 0
    text = edit(VALID, ("amount: 34218.00", "amount: 35000.00"), ("name: Kenward Trust", "name: The Kenward Trust"))

    result = run_import(runner, write(tmp_path, text, "changed.yaml"))

    assert result.exit_code == 0, output(result)
    assert db.session.scalars(select(FundingStream.amount_pence)).all() == [3_500_000]
    assert db.session.scalars(select(Organisation.name).where(Organisation.short_name == "Kenward")).all() == [
        "The Kenward Trust"
    ]
    stream_event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "funding_stream.updated"))
    assert stream_event.details["changes"] == {"amount_pence": [3_421_800, 3_500_000]}


# -- the rules ------------------------------------------------------------------------------------


def test_over_allocation_is_accepted_and_shown(runner, tmp_path, client, login, make_user):
    text = edit(VALID, ("amount: 10000.00", "amount: 20000.00"), ("amount: 12812.50", "amount: 20000.00"))

    result = run_import(runner, write(tmp_path, text))

    assert result.exit_code == 0, output(result)
    assert sum(db.session.scalars(select(Project.amount_pence))) == 4_000_000
    login(client, make_user("finance@council.example", ("finance",)))
    page = client.get("/finance/2021-22/")
    assert page.status_code == 200
    assert "Over-allocated" in page.text
    assert re.search(r'data-figure="total">£34,218\.00<', page.text)
    assert re.search(r'data-figure="awarded">£40,000\.00<', page.text)
    assert re.search(r'data-figure="unallocated">£5,782\.00 ', page.text)


def test_finance_home_without_over_allocation(runner, tmp_path, client, login, make_user):
    assert run_import(runner, write(tmp_path, VALID)).exit_code == 0
    login(client, make_user("finance@council.example", ("finance",)))

    page = client.get("/finance/2021-22/")

    assert "Over-allocated" not in page.text
    assert re.search(r'data-figure="awarded">£22,812\.50<', page.text)
    assert re.search(r'data-figure="unallocated">£11,405\.50<', page.text)


def test_return_with_other_figures_is_refused_on_reimport(runner, tmp_path):
    assert run_import(runner, write(tmp_path, VALID)).exit_code == 0
    before = snapshot()

    result = run_import(
        runner, write(tmp_path, edit(VALID, ("Referrals received: 234", "Referrals received: 240")), "changed.yaml")
    )

    assert result.exit_code == 1
    assert "returns[0]" in result.stderr
    assert "already holds a Q3 return with other figures" in result.stderr
    assert "reopening" in result.stderr
    assert snapshot() == before


def test_return_entered_in_the_portal_is_not_overwritten(runner, tmp_path):
    assert run_import(runner, write(tmp_path, VALID)).exit_code == 0
    kenward = project("Kenward", KENWARD_PROJECT)
    db.session.add(
        MonitoringReturn(
            project=kenward,
            quarter=1,
            status="submitted",
            spend_pence=100_000,
            values=[MeasureValue(measure=kenward.measures[0], value=Decimal(12))],
        )
    )
    db.session.commit()
    before = snapshot()
    text = VALID + (
        "  - organisation: Kenward\n"
        "    project: Youth Diversionary Project\n"
        "    quarter: 1\n"
        "    spend: 1000.00\n"
        "    values:\n"
        "      Young people worked with: 12\n"
    )

    result = run_import(runner, write(tmp_path, text, "changed.yaml"))

    assert result.exit_code == 1
    assert "returns[1]" in result.stderr
    assert "reopening" in result.stderr
    assert snapshot() == before
    assert db.session.scalar(select(MonitoringReturn.status).where(MonitoringReturn.quarter == 1)) == "submitted"


def test_closed_year_refuses_import(runner, tmp_path):
    path = write(tmp_path, VALID)
    assert run_import(runner, path).exit_code == 0
    year = db.session.scalar(select(FinancialYear))
    year.closed_at = utcnow()
    db.session.commit()
    before = snapshot()

    result = run_import(runner, write(tmp_path, edit(VALID, ("amount: 12812.50", "amount: 13000.00")), "changed.yaml"))

    assert result.exit_code == 1
    assert "financial_year: 2021-22 is closed" in result.stderr
    assert "reopen it" in result.stderr
    assert snapshot() == before
