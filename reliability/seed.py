"""Test data made by the portal's own services: one financial year of N one-project partner organisations,
one partner user for each, and CSU officers and finance users with an authenticator app set up (their role requires
it); each CSU officer is mailed each submit, as the CSU is by default (`python -m reliability.seed N < password`, with
the app's environment). Everyone shares one password, hashed once with the production argon2 settings.

Prints JSON: {"partners": [{"email": ..., "project_id": ...}, ...] in organisation order,
"staff": [{"email": ..., "role": ..., "secret": <the authenticator's base32 secret>}, ...]}.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import pyotp
import yaml
from sqlalchemy import select

from portal import create_app
from portal.extensions import db
from portal.models import Organisation, Project
from portal.models.types import utcnow
from portal.models.user import CSU, FINANCE, PARTNER
from portal.services import mfa, users
from portal.services.users import create_user
from portal.services.year_import import import_year

YEAR = "2025-26"  # every quarter has started by the time this runs, so every return is open


def year_document(partners: int) -> str:
    measures = [
        {"name": "People supported", "unit": "people", "combine": "sum", "counts_people": True},
        {"name": "Sessions run", "unit": "sessions", "combine": "sum"},
    ]
    document = {
        "financial_year": YEAR,
        "return_due_days": 14,
        "funding_streams": [{"name": "Reliability Grant", "funder": "Harness PCC", "amount": f"{partners * 4000}.00"}],
        "priorities": ["Reliability"],
        "organisations": [{"short_name": f"R{n:03d}", "name": f"Reliability Partner {n:03d}"} for n in range(partners)],
        "projects": [
            {
                "organisation": f"R{n:03d}",
                "name": f"Reliability project {n:03d}",
                "funding_stream": "Reliability Grant",
                "amount": "4000.00",
                "priority": "Reliability",
                "measures": measures,
            }
            for n in range(partners)
        ],
    }
    return yaml.safe_dump(document, sort_keys=False)


CSU_OFFICERS = 5  # RELIABILITY.md L2: five CSU officers and two finance users beside the partners
FINANCE_USERS = 2


def staff(password: str) -> list[dict]:
    """CSU officers and finance users, each with an authenticator app confirmed, as at their first sign-in: the
    code of the step before now, so the harness's first code (now's) is a new one."""
    made = []
    for role, count in ((CSU, CSU_OFFICERS), (FINANCE, FINANCE_USERS)):
        for n in range(count):
            email = f"{role}{n}@reliability.example"
            user = create_user(email, roles=[role], password=password, name=f"{role} {n}")
            factor = mfa.begin_enrolment(user)
            now = utcnow()
            code = pyotp.TOTP(factor.secret).at(now - timedelta(seconds=mfa.STEP_SECONDS))
            assert mfa.confirm_enrolment(user, code, now=now) is not None
            made.append({"email": email, "role": role, "secret": factor.secret})
    return made


def seed(partners: int, password: str) -> dict:
    stored = users.hash_password(password)  # one argon2 hash for everyone: the same password, made once
    users.hash_password = lambda _password: stored  # type: ignore[assignment]
    import_year(year_document(partners))
    db.session.flush()
    made = []
    for n in range(partners):
        organisation = db.session.scalar(select(Organisation).where(Organisation.short_name == f"R{n:03d}"))
        assert organisation is not None
        project = db.session.scalar(select(Project).where(Project.organisation_id == organisation.id))
        assert project is not None
        email = f"partner{n:03d}@reliability.example"
        create_user(email, roles=[PARTNER], password=password, organisation=organisation, name=f"Partner {n:03d}")
        made.append({"email": email, "project_id": project.id})
    people = staff(password)
    db.session.commit()
    return {"partners": made, "staff": people}


def main() -> None:
    partners = int(sys.argv[1])
    password = sys.stdin.readline().rstrip("\n")
    app = create_app()
    with app.app_context():
        made = seed(partners, password)
        db.engine.dispose()
    json.dump(made, sys.stdout)


if __name__ == "__main__":
    main()
