"""Issue 10, "Done when": from an empty database with only `flask user create` for the first administrator, an
administrator and a CSU officer set up a whole year in the browser, the invited partner signs in and files a
return, and no one touches the command line again.

One story, one test, every step through the portal's own pages (the test client, no SMTP: with no mail server
the administrator reads each invitation at /admin/outbox, as the demo does), asserting what a person would see.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from urllib.parse import urlsplit

from freezegun import freeze_time
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, MonitoringReturn, Project, User

ADMIN = ("first.admin@council.example", "the first administrator's long pass phrase")
CSU = ("csu.officer@council.example", "a community safety officer's pass phrase")
PARTNER = ("manager@pas.example", "a partner manager's own pass phrase")
SAVE = {"save_continue": "Save and continue"}


# -- what a person does in a browser --------------------------------------------------------------


def text(response) -> str:
    return html.unescape(response.text)


def follow(client, response, to: str | None = None):
    """A form that worked redirects (to `to`, when given); the browser then shows the next page."""
    assert response.status_code == 302, text(response)
    location = response.headers["Location"]
    if to is not None:
        assert location == to
    page = client.get(location)
    assert page.status_code == 200
    return page


def link(page, href_pattern: str) -> str:
    """The address of a link on the page: the person clicks it rather than typing an address."""
    match = re.search(rf'<a[^>]*href="({href_pattern})"', page.text)
    assert match, f"no link matching {href_pattern}"
    return html.unescape(match.group(1))


def option(page, label: str) -> str:
    """The value behind the choice a person picks in a select on the page."""
    match = re.search(rf'<option[^>]*value="([^"]+)"[^>]*>\s*{re.escape(label)}\s*</option>', html.unescape(page.text))
    assert match, f"no option {label}"
    return match.group(1)


def first_cell(page, row_heading: str) -> str:
    """What a table row headed `row_heading` shows in its first cell."""
    match = re.search(rf">{re.escape(row_heading)}\b.*?</th>\s*<td[^>]*>([^<]*)</td>", page.text, re.S)
    assert match, f"no row headed {row_heading}"
    return html.unescape(match.group(1)).strip()


def hidden(page, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page.text)
    assert tag, f"no {name} field on the page"
    return html.unescape(re.search(r'value="([^"]*)"', tag.group(0)).group(1))


def sign_in(app, email: str, password: str, home: str):
    client = app.test_client()
    assert client.get("/sign-in").status_code == 200
    page = follow(client, client.post("/sign-in", data={"email": email, "password": password}), home)
    return client, page


def invitation_from_outbox(admin, email: str) -> str:
    """With no mail server the invitation waits in the outbox: the administrator opens it and follows its link."""
    outbox = admin.get("/admin/outbox")
    assert outbox.status_code == 200 and "No mail server is set up" in outbox.text
    message = re.search(
        rf'{re.escape(email)}</td>\s*<td[^>]*><a class="govuk-link" href="(/admin/outbox/\d+)"', outbox.text
    )
    assert message, f"no message to {email} in the outbox"
    opened = admin.get(message.group(1))
    assert opened.status_code == 200
    found = re.search(r'<a href="(https?://[^"]+/invitations/[A-Za-z0-9_-]+)"', opened.text)
    assert found, "no invitation link in the message"
    return urlsplit(found.group(1)).path


def accept(app, path: str, name: str, password: str, home: str):
    """The invited person follows the link, gives their name and a password, and lands signed in at their home."""
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200 and "Set up your account" in page.text
    home_page = follow(client, client.post(path, data={"name": name, "password": password}), home)
    assert "Your account is set up" in home_page.text
    return client, home_page


# -- the story ------------------------------------------------------------------------------------


@freeze_time("2026-05-20 10:00:00")  # Q1 of 2026-27 (April to June) has started: its return can be opened
def test_a_year_is_set_up_and_reported_on_with_one_command_line_step(app, runner):
    # 1. An empty database. The only command-line step, as the README says: the first administrator.
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    result = runner.invoke(
        args=["user", "create", ADMIN[0], "--role", "admin", "--name", "First Admin", "--password-stdin"],
        input=f"{ADMIN[1]}\n",
    )
    assert result.exit_code == 0, result.output
    assert f"Created {ADMIN[0]} (admin)" in result.output

    # 2. The administrator signs in, adds an organisation with its charity number, and invites two people.
    admin, home = sign_in(app, *ADMIN, home="/admin/")
    assert admin.get(link(home, "/admin/organisations/new")).status_code == 200
    organisation_page = follow(
        admin,
        admin.post(
            "/admin/organisations/new",
            data={
                "name": "Protection Against Stalking",
                "short_name": "PAS",
                "charity_number": "1 012 345",
                "contact_email": "hello@pas.example",
            },
        ),
    )
    assert "Protection Against Stalking has been added." in organisation_page.text
    assert "1012345" in organisation_page.text
    assert "1012345" in admin.get("/admin/").text  # listed with its charity number

    invitations = admin.get(link(admin.get("/admin/"), "/admin/invitations"))
    invite_form = admin.get(link(invitations, "/admin/invitations/new"))
    assert invite_form.status_code == 200
    pas = option(invite_form, "Protection Against Stalking")
    for email, roles, organisation in ((CSU[0], ["csu"], ""), (PARTNER[0], ["partner"], pas)):
        listing = follow(
            admin,
            admin.post("/admin/invitations/new", data={"email": email, "roles": roles, "organisation": organisation}),
            "/admin/invitations",
        )
        assert f"Invited {email}" in listing.text
    assert listing.text.count(">Waiting</strong>") == 2
    csu_link = invitation_from_outbox(admin, CSU[0])
    partner_link = invitation_from_outbox(admin, PARTNER[0])

    # 3. The CSU officer accepts, then sets up 2026-27: a year, a funding stream, a project and two measures.
    csu, home = accept(app, csu_link, "Casey Officer", CSU[1], home="/csu/")
    setup_home = csu.get(link(home, "/setup/"))
    assert "No financial year has been set up yet." in setup_home.text
    assert csu.get(link(setup_home, "/setup/years/new")).status_code == 200
    year_page = follow(
        csu, csu.post("/setup/years/new", data={"label": "2026-27", "return_due_days": "14"}), "/setup/2026-27/"
    )
    assert "2026-27" in year_page.text

    stream_form = link(year_page, "/setup/2026-27/streams/new")
    year_page = follow(
        csu,
        csu.post(
            stream_form,
            data={
                "name": "PCC Crime Reduction Grant",
                "funder": "Kent Police and Crime Commissioner",
                "amount": "30000",
            },
        ),
    )
    assert "PCC Crime Reduction Grant" in year_page.text and "£30,000.00" in text(year_page)

    project_form = csu.get(link(year_page, "/setup/2026-27/projects/new"))
    project_page = follow(
        csu,
        csu.post(
            "/setup/2026-27/projects/new",
            data={
                "organisation": option(project_form, "Protection Against Stalking (PAS)"),
                "name": "Stalking advocacy",
                "funding_stream": option(project_form, "PCC Crime Reduction Grant: £30,000.00 unallocated"),
                "amount": "12,500.00",
                "priority": "",
                "actions": "",
                "description": "",
            },
        ),
    )
    assert "Stalking advocacy" in project_page.text and "£12,500.00" in text(project_page)
    project = db.session.scalar(select(Project).where(Project.name == "Stalking advocacy"))
    measure_form = link(project_page, rf"/setup/projects/{project.id}/measures/new")
    for measure in (
        {"name": "Victims supported", "unit": "people", "combine": "sum", "decimals": "whole", "annual_target": "60"},
        {"name": "Advocacy time", "unit": "hours", "combine": "sum", "decimals": "decimal"},
    ):
        project_page = follow(csu, csu.post(measure_form, data=measure))
        assert measure["name"] in project_page.text
    assert "£17,500.00" in text(csu.get("/setup/2026-27/"))  # what the stream has left to award

    # 4. The partner accepts, and signs in again another day with the password they chose; their home shows the
    #    project, and they file its Q1 return.
    partner, home = accept(app, partner_link, "Pat Manager", PARTNER[1], home="/partner/")
    assert "Stalking advocacy" in home.text
    partner, home = sign_in(app, *PARTNER, home="/partner/")
    assert "Stalking advocacy" in home.text and "Protection Against Stalking" in home.text
    assert "14 July 2026" in home.text  # Q1 is due 14 days after 30 June
    overview = partner.get(link(home, rf"/partner/projects/{project.id}/q1/"))
    assert overview.status_code == 200

    outputs = partner.get(link(overview, rf"/partner/projects/{project.id}/q1/outputs"))
    assert "Victims supported" in outputs.text and "Advocacy time" in outputs.text
    supported, hours = db.session.get(Project, project.id).measures
    spend = follow(
        partner,
        partner.post(
            outputs.request.path,
            data={"version": hidden(outputs, "version"), f"m{supported.id}": "17", f"m{hours.id}": "42.5", **SAVE},
        ),
        f"/partner/projects/{project.id}/q1/spend",
    )
    narrative = follow(
        partner,
        partner.post(spend.request.path, data={"version": hidden(spend, "version"), "spend": "3125.00", **SAVE}),
        f"/partner/projects/{project.id}/q1/narrative",
    )
    check = follow(
        partner,
        partner.post(
            narrative.request.path,
            data={
                "version": hidden(narrative, "version"),
                "progress": "Took on 17 new clients.",
                "partner_rag": "green",
                "partner_rag_reason": "On profile.",
                **SAVE,
            },
        ),
        f"/partner/projects/{project.id}/q1/check",
    )
    for answer in ("17 people", "42.50 hours", "£3,125.00", "Took on 17 new clients.", "Green", "On profile."):
        assert answer in text(check), answer
    assert "Before you can submit" not in check.text
    submitted = follow(
        partner,
        partner.post(
            check.request.path,
            data={"version": hidden(check, "version"), "submission_key": hidden(check, "submission_key")},
        ),
        f"/partner/projects/{project.id}/q1/submitted/1",
    )
    assert "Return submitted" in submitted.text
    assert "Submitted" in partner.get("/partner/").text

    queue = csu.get("/csu/reviews")
    assert queue.status_code == 200
    assert "1 submitted return," in queue.text
    assert "Stalking advocacy" in queue.text and "2026-27 Q1" in queue.text and "Pat Manager" in queue.text
    review = csu.get(link(queue, r"/csu/returns/\d+"))
    assert review.status_code == 200
    assert (first_cell(review, "Victims supported"), first_cell(review, "Advocacy time")) == ("17", "42.50")
    for answer in ("by Pat Manager", "£3,125.00", "Took on 17 new clients."):
        assert answer in text(review), answer
    mreturn = db.session.scalar(select(MonitoringReturn))
    assert (mreturn.status, mreturn.spend_pence) == ("submitted", 312_500)
    assert {value.measure.name: value.value for value in mreturn.values} == {
        "Victims supported": Decimal("17"),
        "Advocacy time": Decimal("42.5"),
    }

    # 5. Three people, all active, and the command line used once: in the audit trail the portal itself ("command
    #    line or import") made one change, the first administrator; a signed-in person made every other one.
    people = admin.get("/admin/").text
    for email in (ADMIN[0], CSU[0], PARTNER[0]):
        assert email in people
    assert people.count(">Active</strong>") == 3
    trail = csu.get(link(csu.get("/csu/"), "/audit/"))
    assert trail.status_code == 200
    by_the_portal = csu.get("/audit/?actor=system")
    assert "Showing events 1 to 1 of 1," in by_the_portal.text
    assert f"Created user {ADMIN[0]} (admin)" in by_the_portal.text
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [event.action for event in events if event.actor_id is None] == ["user.created"]
    made = {(event.action, event.actor.email) for event in events if event.actor is not None}
    for action, who in (
        ("organisation.created", ADMIN[0]),
        ("invitation.created", ADMIN[0]),
        ("user.created", CSU[0]),
        ("invitation.accepted", CSU[0]),
        ("financial_year.created", CSU[0]),
        ("funding_stream.created", CSU[0]),
        ("project.created", CSU[0]),
        ("output_measure.created", CSU[0]),
        ("user.created", PARTNER[0]),
        ("invitation.accepted", PARTNER[0]),
        ("monitoring_return.submitted", PARTNER[0]),
    ):
        assert (action, who) in made, (action, who)
        assert action in trail.text  # on the page, newest first
