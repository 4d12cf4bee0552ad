"""Organisations in the administrator's pages: add, change, retire, reinstate; bad input refused with nothing
saved; every change audited with its before and after; numbers that become real 360Giving org-ids."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Organisation, User
from portal.models.organisation import CHARITY_NUMBER_FORMAT, COMPANY_NUMBER_FORMAT
from portal.services.giving360 import organisation_id
from portal.services.organisations import open_organisations
from portal.services.users import UserError, create_user
from tests.conftest import TEST_PASSWORD

PREFIX = "360G-test"
NEW = {
    "name": "Protection Against Stalking",
    "short_name": "PAS",
    "charity_number": "1 012 345",
    "company_number": "2479018",
    "contact_email": "hello@pas.example",
    "contact_phone": "01632 960 001",
}


@pytest.fixture
def admin(client, two_orgs, login):
    login(client, two_orgs["admin"])
    return client


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def organisation_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Organisation))


def by_short_name(short_name: str) -> Organisation | None:
    return db.session.scalar(select(Organisation).where(Organisation.short_name == short_name))


# -- adding ---------------------------------------------------------------------------------------


def test_admin_adds_an_organisation_with_its_numbers_as_the_registers_write_them(admin, two_orgs):
    response = admin.post("/admin/organisations/new", data=NEW)

    organisation = by_short_name("PAS")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/organisations/{organisation.id}"
    assert (organisation.name, organisation.charity_number, organisation.company_number) == (
        "Protection Against Stalking",
        "1012345",
        "02479018",
    )
    assert (organisation.contact_email, organisation.contact_phone) == ("hello@pas.example", "01632 960 001")
    page = admin.get(response.headers["Location"]).text
    assert "Protection Against Stalking has been added." in page
    assert "1012345" in page

    [event] = events("organisation.created")
    assert (event.actor_id, event.object_type) == (two_orgs["admin"].id, "organisation")
    assert event.object_id == event.organisation_id == organisation.id
    assert event.details == {
        "changes": {
            "name": [None, "Protection Against Stalking"],
            "short_name": [None, "PAS"],
            "charity_number": [None, "1012345"],
            "company_number": [None, "02479018"],
            "contact_email": [None, "hello@pas.example"],
            "contact_phone": [None, "01632 960 001"],
        }
    }


@pytest.mark.parametrize(
    ("numbers", "org_id"),
    [
        ({"charity_number": "1 012 345"}, "GB-CHC-1012345"),
        ({"charity_number": "328112"}, "GB-CHC-328112"),
        ({"charity_number": "sc 012345"}, "GB-SC-SC012345"),
        ({"company_number": "2479018"}, "GB-COH-02479018"),
        ({"company_number": "sc123456"}, "GB-COH-SC123456"),
        ({"company_number": "R0000123"}, "GB-COH-R0000123"),
        ({}, f"{PREFIX}-org-PAS"),
    ],
)
def test_numbers_typed_in_the_portal_become_real_360giving_org_ids(admin, numbers, org_id):
    data = {**NEW, "charity_number": "", "company_number": "", **numbers}
    assert admin.post("/admin/organisations/new", data=data).status_code == 302
    assert organisation_id(by_short_name("PAS"), PREFIX) == org_id


BAD_INPUT = [
    ("name", "", "Enter the organisation&#39;s name"),
    ("name", "x" * 301, "Name must be 300 characters or fewer"),
    ("short_name", "", "Enter a short name"),
    ("short_name", "P" * 51, "Short name must be 50 characters or fewer"),
    ("short_name", "davss", "Another organisation already has the short name davss"),
    ("charity_number", "12345", escape(CHARITY_NUMBER_FORMAT)),
    ("charity_number", "1012345-1", escape(CHARITY_NUMBER_FORMAT)),
    ("charity_number", "NIC100123", escape(CHARITY_NUMBER_FORMAT)),
    ("charity_number", "SC12345", escape(CHARITY_NUMBER_FORMAT)),
    ("company_number", "123456789", escape(COMPANY_NUMBER_FORMAT)),
    ("company_number", "ABC", escape(COMPANY_NUMBER_FORMAT)),
    ("contact_email", "not an address", "Enter an email address in the correct format"),
    ("contact_phone", "call reception", "Enter a telephone number"),
    ("contact_phone", "12", "Enter a telephone number"),
    ("name", "Nul\x00here", "Name must not contain control characters"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT)
def test_adding_refuses_bad_input_and_saves_nothing(admin, two_orgs, field, value, message):
    before = organisation_count()
    response = admin.post("/admin/organisations/new", data={**NEW, field: value})

    assert response.status_code == 422
    summary = re.search(r'<div class="govuk-error-summary".*?</div>\s*</div>', response.text, re.S).group(0)
    assert str(message) in summary
    beside = rf'<p id="{field}-error" class="govuk-error-message">.*?{re.escape(str(message))}'
    assert re.search(beside, response.text, re.S)
    assert "<title>Error: Add an organisation" in response.text
    if "\x00" not in value:
        assert f'value="{escape(value)}"' in response.text  # what was typed is kept
    assert f'value="{escape(NEW["contact_email"])}"' in response.text or field == "contact_email"
    assert organisation_count() == before
    assert events("organisation.created") == []


# -- changing -------------------------------------------------------------------------------------


def test_admin_changes_an_organisation_and_the_trail_keeps_before_and_after(admin, two_orgs):
    davss = two_orgs["davss"]
    page = admin.get(f"/admin/organisations/{davss.id}/edit").text
    assert 'value="Domestic Abuse Volunteer Support Services"' in page

    data = {"name": davss.name, "short_name": "DAVSS", "charity_number": "1 098 765", "contact_phone": "01732 123 456"}
    response = admin.post(f"/admin/organisations/{davss.id}/edit", data=data)

    assert response.status_code == 302
    davss = db.session.get(Organisation, davss.id)
    assert (davss.charity_number, davss.contact_phone) == ("1098765", "01732 123 456")
    [event] = events("organisation.updated")
    assert event.details == {"changes": {"charity_number": [None, "1098765"], "contact_phone": [None, "01732 123 456"]}}
    assert event.actor_id == two_orgs["admin"].id


def test_a_change_that_changes_nothing_is_not_audited(admin, two_orgs):
    davss = two_orgs["davss"]
    response = admin.post(f"/admin/organisations/{davss.id}/edit", data={"name": davss.name, "short_name": "DAVSS"})
    assert response.status_code == 302
    assert "Nothing was changed." in admin.get(response.headers["Location"]).text
    assert events("organisation.updated") == []


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT[:-1])
def test_changing_refuses_bad_input_and_keeps_what_was_saved(admin, two_orgs, field, value, message):
    kenward = two_orgs["kenward"]
    data = {**NEW, "short_name": "Kenward", "name": "Kenward Trust", field: value}
    if field == "short_name" and value == "davss":
        data[field] = "DAVSS"  # another organisation's, whatever the case
        message = "Another organisation already has the short name DAVSS"
    response = admin.post(f"/admin/organisations/{kenward.id}/edit", data=data)

    assert response.status_code == 422
    assert str(message) in response.text
    kenward = db.session.get(Organisation, kenward.id)
    assert (kenward.short_name, kenward.name, kenward.charity_number) == ("Kenward", "Kenward Trust", None)
    assert events("organisation.updated") == []


def test_its_own_short_name_in_another_case_is_allowed(admin, two_orgs):
    davss = two_orgs["davss"]
    response = admin.post(f"/admin/organisations/{davss.id}/edit", data={"name": davss.name, "short_name": "Davss"})
    assert response.status_code == 302
    assert db.session.get(Organisation, davss.id).short_name == "Davss"


# -- retiring and reinstating ---------------------------------------------------------------------


def test_retiring_asks_first_naming_who_will_be_deactivated(admin, two_orgs):
    davss = two_orgs["davss"]
    page = admin.get(f"/admin/organisations/{davss.id}/retire")
    assert page.status_code == 200
    assert "Are you sure you want to retire Domestic Abuse Volunteer Support Services?" in page.text
    assert "a@davss.example" in page.text
    assert "b@kenward.example" not in page.text
    assert db.session.get(Organisation, davss.id).retired_at is None  # asking changes nothing


def test_retiring_keeps_the_history_offers_it_for_nothing_new_and_deactivates_its_people(app, admin, two_orgs):
    davss, partner = two_orgs["davss"], two_orgs["partner_a"]
    partner_client = app.test_client()
    partner_client.post("/sign-in", data={"email": partner.email, "password": TEST_PASSWORD})
    assert partner_client.get("/partner/").status_code == 200

    response = admin.post(f"/admin/organisations/{davss.id}/retire")

    assert response.status_code == 302
    assert "1 person from it can no longer sign in" in admin.get(response.headers["Location"]).text
    davss = db.session.get(Organisation, davss.id)
    assert davss.is_retired and davss.retired_at is not None
    assert db.session.get(User, partner.id).active is False
    assert partner_client.get("/partner/").status_code == 302  # their session has ended
    # Its history stays where the CSU reads it ...
    csu = app.test_client()
    csu.post("/sign-in", data={"email": "csu@council.example", "password": TEST_PASSWORD})
    assert "Support for Medium" in csu.get(f"/csu/projects/{two_orgs['davss_project'].id}").text
    # ... and it is offered for nothing new.
    assert davss not in open_organisations()
    roles_page = admin.get(f"/admin/users/{two_orgs['csu'].id}/roles").text
    assert "Domestic Abuse Volunteer Support Services" not in roles_page
    with pytest.raises(UserError, match="retired"):
        create_user("new@davss.example", roles=["partner"], password="a long enough password", organisation=davss)

    [retired] = events("organisation.retired")
    assert retired.details == {"changes": {"retired": [False, True]}}
    assert retired.actor_id == two_orgs["admin"].id
    [deactivated] = events("user.deactivated")
    assert deactivated.object_id == partner.id and deactivated.actor_id == two_orgs["admin"].id


def test_an_organisation_is_retired_once(admin, two_orgs):
    davss = two_orgs["davss"]
    admin.post(f"/admin/organisations/{davss.id}/retire")
    again = admin.post(f"/admin/organisations/{davss.id}/retire")
    assert again.status_code == 409
    assert "is already retired" in again.text
    assert len(events("organisation.retired")) == 1


def test_reinstating_offers_it_again_and_leaves_its_people_deactivated(admin, two_orgs):
    davss = two_orgs["davss"]
    admin.post(f"/admin/organisations/{davss.id}/retire")
    page = admin.get(f"/admin/organisations/{davss.id}").text
    assert "Reinstate Domestic Abuse Volunteer Support Services" in page

    response = admin.post(f"/admin/organisations/{davss.id}/reinstate")

    assert response.status_code == 303
    assert db.session.get(Organisation, davss.id).retired_at is None
    assert db.session.get(User, two_orgs["partner_a"].id).active is False
    [event] = events("organisation.reinstated")
    assert event.details == {"changes": {"retired": [True, False]}}


def test_the_organisation_page_links_to_its_audit_trail(admin, two_orgs):
    davss = two_orgs["davss"]
    page = admin.get(f"/admin/organisations/{davss.id}").text
    assert f"/audit/?object_type=organisation&amp;object_id={davss.id}" in page
    assert "a@davss.example" in page


def test_an_organisation_that_does_not_exist_is_404(admin):
    assert admin.get("/admin/organisations/999999").status_code == 404
    assert admin.post("/admin/organisations/999999/retire").status_code == 404
