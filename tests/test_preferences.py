"""Mail preferences: how each person receives each kind of mail, chosen on "Your account"."""

from __future__ import annotations

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
