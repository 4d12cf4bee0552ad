"""A year's grants as 360Giving open data: a JSON package and the standard's flat CSV.

The package validates against the 360Giving Data Standard 1.4 schemas (vendored in ../shared/360giving/).
One grant per project of the year:

- ``id``: the configured 360Giving prefix and the project's id (``360G-sevenoaks-csp-12``).
- ``amountAwarded``: the project's current award (after any variations), in pounds, written exactly
  from pence with two places (``10000.00``): money never passes through a float.
- ``awardDate``: the first day of the financial year (1 April). The partnership agrees the year's awards
  in March and April, and the ledger dates the original award on that day too (services/ledger.py).
- ``plannedDates``: the financial year, 1 April to 31 March.
- ``recipientOrganization``: an org-id from the organisation's registered number where it is known
  (``GB-CHC-`` a charity in England and Wales, ``GB-SC-`` one in Scotland, else ``GB-COH-`` Companies
  House), otherwise an identifier made of the 360Giving prefix and the organisation's short name, as the
  standard allows for recipients without a registered number.
- ``fundingOrganization``: the partnership's lead council (config FUNDING_ORG_ID, FUNDING_ORG_NAME).
- ``grantProgramme``: the funding stream; ``beneficiaryLocation``: the partnership's area (config).

Amounts are Decimals, so the package is written with ``dumps`` here (the json module cannot write a
Decimal as a number, and Flask's provider writes it as a string).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..calendar import uk_today
from ..extensions import db
from ..models import FinancialYear, Organisation, Project
from ..models.organisation import registered_number
from .exports import amount, neutralise

# The package schema's version field is major.minor; the vendored schema is 1.4.3.
STANDARD_VERSION = "1.4"
CURRENCY = "GBP"
NOT_IN_ID = re.compile(r"[^A-Za-z0-9]+")

# The standard's flat (spreadsheet) column titles: each is the "title" of the field in the grant schema,
# joined with ":" down the path, one column per field of the first item of an array (the schema's rollUp).
CSV_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Identifier", ("id",)),
    ("Title", ("title",)),
    ("Description", ("description",)),
    ("Currency", ("currency",)),
    ("Amount Awarded", ("amountAwarded",)),
    ("Award Date", ("awardDate",)),
    ("Planned Dates:Start Date", ("plannedDates", "startDate")),
    ("Planned Dates:End Date", ("plannedDates", "endDate")),
    ("Recipient Org:Identifier", ("recipientOrganization", "id")),
    ("Recipient Org:Name", ("recipientOrganization", "name")),
    ("Recipient Org:Charity Number", ("recipientOrganization", "charityNumber")),
    ("Recipient Org:Company Number", ("recipientOrganization", "companyNumber")),
    ("Funding Org:Identifier", ("fundingOrganization", "id")),
    ("Funding Org:Name", ("fundingOrganization", "name")),
    ("Grant Programme:Title", ("grantProgramme", "title")),
    ("Beneficiary Location:Name", ("beneficiaryLocation", "name")),
    ("Beneficiary Location:Geographic Code", ("beneficiaryLocation", "geoCode")),
    ("Beneficiary Location:Geographic Code Type", ("beneficiaryLocation", "geoCodeType")),
)


# -- identifiers ----------------------------------------------------------------------------------


def grant_id(project: Project, prefix: str) -> str:
    return f"{prefix}-{project.id}"


def organisation_id(organisation: Organisation, prefix: str) -> str:
    """The recipient's org-id (https://org-id.guide): from its charity number, else its company number,
    else the publisher's own identifier for it (the 360Giving prefix and the organisation's short name)."""
    charity = registered_number(organisation.charity_number)
    if charity:
        # The Scottish Charity Regulator's numbers begin SC; the rest are the Charity Commission's.
        return f"GB-SC-{charity}" if charity.startswith("SC") else f"GB-CHC-{charity}"
    company = registered_number(organisation.company_number)
    if company:
        # Companies House numbers are eight characters: 1234567 is written 01234567.
        return f"GB-COH-{company.zfill(8) if company.isdigit() else company}"
    local = NOT_IN_ID.sub("-", organisation.short_name).strip("-") or str(organisation.id)
    return f"{prefix}-org-{local}"


# -- the package ----------------------------------------------------------------------------------


def year_projects(year: FinancialYear) -> list[Project]:
    return list(
        db.session.scalars(
            select(Project)
            .where(Project.year_id == year.id)
            .options(
                joinedload(Project.organisation),
                joinedload(Project.funding_stream),
                joinedload(Project.priority),
                joinedload(Project.year),
            )
            .order_by(Project.id)
        )
    )


def _description(project: Project) -> str:
    if project.description and project.description.strip():
        return project.description.strip()
    stream = project.funding_stream
    text = (
        f"{project.name}: a project run by {project.organisation.name}, funded from the {stream.name} "
        f"({stream.funder}) in the {project.year.label} financial year"
    )
    if project.priority is not None:
        text += f" for the partnership's priority {project.priority.name}"
    return text + "."


def _recipient(organisation: Organisation, prefix: str) -> dict:
    recipient = {"id": organisation_id(organisation, prefix), "name": organisation.name}
    if registered_number(organisation.charity_number):
        recipient["charityNumber"] = registered_number(organisation.charity_number)
    if registered_number(organisation.company_number):
        recipient["companyNumber"] = registered_number(organisation.company_number)
    return recipient


def grant(project: Project, config: Mapping) -> dict:
    prefix = config["GIVING_PREFIX"]
    year = project.year
    first_day, last_day = year.quarter(1).start, year.quarter(4).end
    stream = project.funding_stream
    return {
        "id": grant_id(project, prefix),
        "title": project.name,
        "description": _description(project),
        "currency": CURRENCY,
        "amountAwarded": amount(project.amount_pence),
        "awardDate": first_day.isoformat(),
        "plannedDates": [{"startDate": first_day.isoformat(), "endDate": last_day.isoformat()}],
        "recipientOrganization": [_recipient(project.organisation, prefix)],
        "fundingOrganization": [{"id": config["FUNDING_ORG_ID"], "name": config["FUNDING_ORG_NAME"]}],
        "grantProgramme": [{"title": stream.name, "description": f"Funded by the {stream.funder}"}],
        "beneficiaryLocation": [dict(config["BENEFICIARY_LOCATION"])],
    }


def grants_package(year: FinancialYear, config: Mapping, projects: Sequence[Project] | None = None) -> dict:
    """The year's 360Giving package. The schema needs at least one grant: callers check ``grants``."""
    projects = year_projects(year) if projects is None else projects
    partnership = config.get("PARTNERSHIP_NAME") or config["FUNDING_ORG_NAME"]
    streams = sorted({project.funding_stream.name for project in projects})
    return {
        "version": STANDARD_VERSION,
        "title": f"{partnership}: grants awarded in {year.label}",
        "description": (
            f"Grants awarded by the {partnership} in the {year.label} financial year "
            f"(1 April {year.start_year} to 31 March {year.start_year + 1})"
            + (f" from the {', '.join(streams)}." if streams else ".")
        ),
        "identifier": f"{config['GIVING_PREFIX']}-{year.label}",
        "issued": uk_today().isoformat(),
        "publisher": {"identifier": config["FUNDING_ORG_ID"], "name": config["FUNDING_ORG_NAME"]},
        "license": config["GIVING_LICENSE"],
        "grants": [grant(project, config) for project in projects],
    }


# -- writing --------------------------------------------------------------------------------------


def _encode(value: object, depth: int) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        inner = "  " * (depth + 1)
        items = (
            f"{inner}{json.dumps(str(key), ensure_ascii=False)}: {_encode(item, depth + 1)}"
            for key, item in value.items()
        )
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        inner = "  " * (depth + 1)
        return "[\n" + ",\n".join(f"{inner}{_encode(item, depth + 1)}" for item in value) + "\n" + "  " * depth + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def dumps(package: Mapping) -> str:
    """JSON text with Decimals written as exact numbers (10000.00), indented two spaces."""
    return _encode(package, 0) + "\n"


def _cell(grant_: Mapping, path: tuple[str, ...]) -> object:
    value: object = grant_
    for key in path:
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def grants_csv(package: Mapping) -> list[list]:
    """The package as the standard's flat table: the header row of column titles, then one row per grant.
    Text cells are neutralised against formula injection; amounts stay Decimal numbers."""
    rows: list[list] = [[title for title, _ in CSV_COLUMNS]]
    for grant_ in package["grants"]:
        rows.append([neutralise(_cell(grant_, path)) for _, path in CSV_COLUMNS])
    return rows
