"""Demo data: the partnership's published figures, plus an illustrative current year."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import select

from ..calendar import current_start_year, parse_year_label, uk_today, year_label
from ..extensions import db
from ..models import FinancialYear, Organisation, User
from ..models.user import ADMIN, CSU, FINANCE, PARTNER
from .ledger import close_year
from .users import create_user
from .year_import import import_year

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
# Historic years straight from the seeds (with illustrative gaps marked in each file).
HISTORIC_FILES = ("2019-20.yaml", "2020-21.yaml", "2021-22.yaml")
CURRENT_TEMPLATE = "current-year.yaml"
CURRENT_PLACEHOLDER = "CURRENT"
PAST_YEAR_CLOSED = "Demo: a past year, closed when the demo was loaded"
ACCOUNTS = (
    ("davss@demo.test", "DAVSS volunteer coordinator", [PARTNER], "DAVSS"),
    ("kenward@demo.test", "Kenward Trust youth worker", [PARTNER], "Kenward"),
    ("pas@demo.test", "PAS advocacy manager", [PARTNER], "PAS"),
    ("csu@demo.test", "Community Safety Officer", [CSU], None),
    ("finance@demo.test", "Finance officer", [FINANCE], None),
    ("admin@demo.test", "Portal administrator", [ADMIN], None),
)


@dataclass
class DemoResult:
    years: list[str] = field(default_factory=list)
    created_users: int = 0


def current_year_text() -> str:
    """The current-year template with this year's label, keeping only returns of quarters that have ended."""
    data = yaml.safe_load((DEMO_DIR / CURRENT_TEMPLATE).read_text(encoding="utf-8"))
    start = current_start_year()
    if data.get("financial_year") != CURRENT_PLACEHOLDER:
        raise ValueError(f"{CURRENT_TEMPLATE}: financial_year must be {CURRENT_PLACEHOLDER}")
    data["financial_year"] = year_label(start)
    year = FinancialYear(start_year=start, return_due_days=data.get("return_due_days", 14))
    today = uk_today()
    data["returns"] = [entry for entry in data.get("returns") or [] if year.quarter(entry["quarter"]).end < today]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def load(password: str) -> DemoResult:
    """Import every demo year, close the past ones, and create the demo accounts that do not exist yet; the
    caller commits."""
    result = DemoResult()
    closed = set(db.session.scalars(select(FinancialYear.start_year).where(FinancialYear.is_closed)))
    for name in HISTORIC_FILES:
        if parse_year_label(name.removesuffix(".yaml")) in closed:  # loaded and closed by an earlier load
            result.years.append(name.removesuffix(".yaml"))
            continue
        result.years.append(import_year((DEMO_DIR / name).read_text(encoding="utf-8")).year_label)
    result.years.append(import_year(current_year_text()).year_label)
    _close_past_years()
    for email, name, roles, org_short_name in ACCOUNTS:
        if db.session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        organisation = (
            db.session.scalar(select(Organisation).where(Organisation.short_name == org_short_name))
            if org_short_name
            else None
        )
        create_user(email, roles=roles, password=password, organisation=organisation, name=name)
        result.created_users += 1
    return result


def _close_past_years() -> None:
    """Past years closed, as at a real year end: their returns are read-only and never chased or listed as due."""
    for year in db.session.scalars(
        select(FinancialYear).where(FinancialYear.start_year < current_start_year(), ~FinancialYear.is_closed)
    ):
        close_year(year, by=None, reason=PAST_YEAR_CLOSED)


def print_accounts(echo: Callable[[str], None], *, password: str | None, generated: bool = False) -> None:
    echo("Demo accounts:")
    required = set(current_app.config["MFA_REQUIRED_ROLES"])
    for email, _name, roles, org_short_name in ACCOUNTS:
        mfa_note = " - sets up an authenticator app at first sign-in" if required & set(roles) else ""
        echo(f"  {email:<20} {', '.join(roles)}{f' ({org_short_name})' if org_short_name else ''}{mfa_note}")
    if required:
        echo(
            "Staff accounts are asked, after the password, to scan a QR code with an authenticator app (any TOTP app)"
            " and enter its 6-digit code; partners may turn this on under Your account."
        )
    if password and generated:
        echo(f"Password for every demo account (shown once; set DEMO_PASSWORD to choose it): {password}")
    elif password:
        echo("Password for every demo account: the value of DEMO_PASSWORD")
    else:
        echo("Password: as printed when the demo was first loaded (or the DEMO_PASSWORD it was loaded with).")
