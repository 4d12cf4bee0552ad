"""Mail preferences: how each person receives each kind of mail, chosen on "Your account"."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, MailPreference
from portal.models.vocabulary import (
    DELIVERY_DAILY,
    DELIVERY_EACH,
    DELIVERY_NONE,
    MAIL_KIND_CHASE,
    MAIL_KIND_CSU_DIGEST,
    MAIL_KIND_INVITATION,
    MAIL_KIND_OVERDUE,
    MAIL_KIND_PASSWORD_RESET,
    MAIL_KIND_PAYMENT_RECORDED,
    MAIL_KIND_RETURN_SENT_BACK,
    MAIL_KIND_RETURN_SUBMITTED,
    MAIL_KINDS,
    MANDATORY_MAIL_KINDS,
)
from portal.services.preferences import PreferenceError, deliveries_for, delivery_for, set_preferences
from tests.test_migrations import empty_database_url, migrated_app  # noqa: F401  (fixtures: a migrated database)


def test_optional_kinds_default_to_each_message(two_orgs):
    partner = two_orgs["partner_a"]
    for kind in MAIL_KINDS:
        assert delivery_for(partner, kind) == DELIVERY_EACH


def test_a_stored_choice_is_what_delivery_for_answers(two_orgs):
    partner, csu = two_orgs["partner_a"], two_orgs["csu"]
    set_preferences(
        partner, {MAIL_KIND_RETURN_SENT_BACK: DELIVERY_DAILY, MAIL_KIND_PAYMENT_RECORDED: DELIVERY_NONE}, by=partner
    )
    set_preferences(csu, {MAIL_KIND_RETURN_SUBMITTED: DELIVERY_NONE, MAIL_KIND_CSU_DIGEST: DELIVERY_DAILY}, by=csu)
    db.session.commit()
    assert delivery_for(partner, MAIL_KIND_RETURN_SENT_BACK) == DELIVERY_DAILY
    assert delivery_for(partner, MAIL_KIND_PAYMENT_RECORDED) == DELIVERY_NONE
    assert delivery_for(csu, MAIL_KIND_RETURN_SUBMITTED) == DELIVERY_NONE
    assert delivery_for(csu, MAIL_KIND_CSU_DIGEST) == DELIVERY_DAILY
    assert delivery_for(two_orgs["partner_b"], MAIL_KIND_PAYMENT_RECORDED) == DELIVERY_EACH  # only theirs
    users = [partner, two_orgs["partner_b"]]
    assert deliveries_for(users, MAIL_KIND_PAYMENT_RECORDED) == {partner.id: DELIVERY_NONE, users[1].id: DELIVERY_EACH}


@pytest.mark.parametrize("kind", MANDATORY_MAIL_KINDS)
def test_mandatory_kinds_are_each_message_whatever_is_stored(two_orgs, kind):
    partner = two_orgs["partner_a"]
    with pytest.raises(PreferenceError):
        set_preferences(partner, {kind: DELIVERY_NONE}, by=partner)
    # Even a row slipped past the service (the table refuses mandatory kinds; delivery_for ignores them).
    assert delivery_for(partner, kind) == DELIVERY_EACH


def test_the_table_refuses_a_mandatory_kind(two_orgs):
    db.session.add(MailPreference(user_id=two_orgs["partner_a"].id, kind=MAIL_KIND_OVERDUE, delivery=DELIVERY_NONE))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_refused_set_saves_nothing_at_all(two_orgs):
    partner = two_orgs["partner_a"]
    with pytest.raises(PreferenceError) as refused:
        set_preferences(
            partner, {MAIL_KIND_RETURN_SENT_BACK: DELIVERY_NONE, MAIL_KIND_CHASE: DELIVERY_NONE}, by=partner
        )
    assert refused.value.kind == MAIL_KIND_CHASE
    db.session.commit()
    assert db.session.scalars(select(MailPreference)).all() == []
    assert delivery_for(partner, MAIL_KIND_RETURN_SENT_BACK) == DELIVERY_EACH


def test_kinds_a_person_never_receives_are_not_theirs_to_choose(two_orgs):
    partner = two_orgs["partner_a"]
    with pytest.raises(PreferenceError):
        set_preferences(partner, {MAIL_KIND_CSU_DIGEST: DELIVERY_NONE}, by=partner)
    with pytest.raises(PreferenceError):
        set_preferences(partner, {MAIL_KIND_RETURN_SENT_BACK: "weekly"}, by=partner)
    with pytest.raises(ValueError):
        delivery_for(partner, "no_such_kind")


def test_a_change_is_audited_with_before_and_after(two_orgs):
    partner = two_orgs["partner_a"]
    set_preferences(
        partner, {MAIL_KIND_RETURN_SENT_BACK: DELIVERY_DAILY, MAIL_KIND_PAYMENT_RECORDED: DELIVERY_EACH}, by=partner
    )
    db.session.commit()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.mail_preferences")).one()
    assert event.actor_id == partner.id and event.object_id == partner.id
    assert event.details == {"changes": {MAIL_KIND_RETURN_SENT_BACK: [DELIVERY_EACH, DELIVERY_DAILY]}}
    assert "A daily summary" in event.summary
    # Nothing changed: nothing recorded.
    assert set_preferences(partner, {MAIL_KIND_RETURN_SENT_BACK: DELIVERY_DAILY}, by=partner) == {}


def test_account_mail_is_mandatory():
    assert {MAIL_KIND_INVITATION, MAIL_KIND_PASSWORD_RESET, MAIL_KIND_OVERDUE, MAIL_KIND_CHASE} == set(
        MANDATORY_MAIL_KINDS
    )


# -- the page on "Your account" ---------------------------------------------------------------------


@pytest.fixture
def partner_client(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["partner_a"])
    return client


PARTNER_CHOICES = {
    "return_sent_back": DELIVERY_EACH,
    "return_approved": DELIVERY_DAILY,
    "return_reopened": DELIVERY_EACH,
    "payment_recorded": DELIVERY_NONE,
    "due_soon": DELIVERY_EACH,
}


def checked(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="([a-z_]+)" type="radio" value="([a-z]+)" checked', page))


def stored() -> dict[tuple[int, str], str]:
    db.session.expire_all()
    return {(row.user_id, row.kind): row.delivery for row in db.session.scalars(select(MailPreference))}


def test_the_account_page_links_to_the_emails_page(partner_client):
    page = partner_client.get("/account").text
    assert 'href="/account/emails"' in page


def test_a_partner_chooses_for_the_partners_kinds_and_sees_the_mandatory_ones_as_always_sent(partner_client):
    page = partner_client.get("/account/emails").text
    for kind in PARTNER_CHOICES:
        assert f'name="{kind}"' in page
    for kind in (MAIL_KIND_RETURN_SUBMITTED, MAIL_KIND_CSU_DIGEST, *MANDATORY_MAIL_KINDS):
        assert f'name="{kind}"' not in page
    assert page.count("Always sent") >= 4 and "Overdue return reminders" in page and "Password reset" in page
    assert checked(page) == dict.fromkeys(PARTNER_CHOICES, DELIVERY_EACH)  # the default, before any choice


def test_the_csu_chooses_for_submitted_returns_and_the_digest(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["csu"])
    page = client.get("/account/emails").text
    assert 'name="return_submitted"' in page and 'name="csu_digest"' in page
    assert 'name="return_sent_back"' not in page


def test_saving_stores_the_choices_audits_them_and_shows_them_again(partner_client, two_orgs):
    partner = two_orgs["partner_a"]
    response = partner_client.post("/account/emails", data=PARTNER_CHOICES)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    assert stored() == {
        (partner.id, "return_approved"): DELIVERY_DAILY,
        (partner.id, "payment_recorded"): DELIVERY_NONE,
    }
    assert delivery_for(partner, "return_approved") == DELIVERY_DAILY
    assert "Your email choices have been saved." in partner_client.get("/account").text
    assert checked(partner_client.get("/account/emails").text) == PARTNER_CHOICES
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.mail_preferences")).one()
    assert event.details["changes"] == {"return_approved": ["each", "daily"], "payment_recorded": ["each", "none"]}


@pytest.mark.parametrize("kind", MANDATORY_MAIL_KINDS)
def test_a_tampered_form_turning_off_a_mandatory_kind_is_refused_and_saves_nothing(partner_client, two_orgs, kind):
    response = partner_client.post("/account/emails", data={**PARTNER_CHOICES, kind: DELIVERY_NONE})
    assert response.status_code == 422
    assert "is always sent and cannot be turned off" in response.text
    assert "<title>Error: " in response.text
    assert stored() == {}
    assert delivery_for(two_orgs["partner_a"], kind) == DELIVERY_EACH
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.mail_preferences")) is None


def test_a_kind_not_offered_or_an_unknown_choice_is_refused(partner_client):
    response = partner_client.post("/account/emails", data={**PARTNER_CHOICES, "csu_digest": DELIVERY_NONE})
    assert response.status_code == 422 and "is not a kind of mail you receive" in response.text
    response = partner_client.post("/account/emails", data={**PARTNER_CHOICES, "due_soon": "weekly"})
    assert response.status_code == 422
    assert response.text.count("Select how you want to get “A return due soon”") >= 2  # summary and field
    assert stored() == {}


def test_a_kind_left_out_of_the_form_is_left_as_it_was(partner_client, two_orgs):
    choose = {"payment_recorded": DELIVERY_NONE}
    assert partner_client.post("/account/emails", data=choose).status_code == 302
    assert stored() == {(two_orgs["partner_a"].id, "payment_recorded"): DELIVERY_NONE}


def test_someone_with_no_optional_mail_is_told_so(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["finance"])
    page = client.get("/account/emails").text
    assert "None of the emails the portal sends to your roles can be turned off." in page
    assert client.post("/account/emails", data={}).status_code == 302


# -- the migrated schema takes every kind ----------------------------------------------------------------


def test_the_migrated_outbox_takes_every_kind_of_mail_the_vocabulary_has(migrated_app):  # noqa: F811
    with db.engine.begin() as connection:
        for kind in MAIL_KINDS:
            connection.execute(
                sa.text(
                    "INSERT INTO outbox_message (kind, to_address, subject, text_body, html_body, status, attempts,"
                    " next_attempt_at, created_at) VALUES (:kind, 'a@b.example', 's', 't', 'h', 'queued', 0,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"kind": kind},
            )
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO outbox_message (kind, to_address, subject, text_body, html_body, status, attempts,"
                " next_attempt_at, created_at) VALUES ('no_such_kind', 'a@b.example', 's', 't', 'h', 'queued', 0,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
