"""The PCC grant ledger: exact in pence, payments reversed never deleted, variations kept, a closed year
refusing changes by every path."""

from __future__ import annotations

from datetime import date
from functools import partial

import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import DatabaseError

from portal.extensions import db
from portal.models import AuditEvent, AwardVariation, MonitoringReturn, Payment, PaymentInstalment, Project
from portal.models.payment import REVERSAL
from portal.money import format_pence
from portal.services import ledger as service


@pytest.fixture
def world(two_orgs):
    return two_orgs


def project_of(world, key="davss_project") -> Project:
    return db.session.get(Project, world[key].id)


def pay(client, project, **fields):
    data = {"amount": "1000.00", "paid_on": ["1", "5", "2021"], "reference": "BACS-1", "note": "", "reason": ""}
    data.update(fields)
    return client.post(f"/finance/projects/{project.id}/payments", data=data)


def counts():
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Payment, AwardVariation, PaymentInstalment, AuditEvent)
    }


# -- arithmetic -----------------------------------------------------------------------------------

OPERATIONS = st.lists(
    st.one_of(
        # An amount, and whether a reason for paying over the award is given. (The flag is also the vary's.)
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=5_000_000), st.booleans()),
        # Which entry to reverse: a payment, one already reversed, or a reversal.
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=50), st.just(False)),
        # The new award (None asks for the award it already is), and whether an over-allocation is confirmed.
        st.tuples(st.just("vary"), st.none() | st.integers(min_value=0, max_value=20_000_000), st.booleans()),
    ),
    max_size=25,
)


def refused(change, *, says: str, field: str | None) -> None:
    """The change raises the LedgerError the rules give, naming the field, and writes nothing."""
    before = counts()
    with pytest.raises(service.LedgerError) as refusal:
        change()
    assert says in str(refusal.value)
    assert refusal.value.field == field
    assert counts() == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_every_balance_equals_the_sum_of_its_entries(world, operations):
    """Random payments, reversals and variations: the ledger stays exact in pence, and the only refusals are the
    ones its rules make for that change. Any other LedgerError fails the test."""
    project = project_of(world)
    finance = world["finance"]
    stream_total = world["stream"].amount_pence
    others_awarded = project_of(world, "kenward_project").amount_pence
    # The world lives across examples: start from what earlier examples left.
    expected_award, expected_paid = project.amount_pence, service.net_paid(project)
    entries = list(db.session.scalars(select(Payment).where(Payment.project_id == project.id).order_by(Payment.id)))
    reversed_ids = {entry.reverses_id for entry in entries if entry.reverses_id is not None}
    for operation, value, with_reason in operations:
        if operation == "pay":
            reason = "Agreed with the PCC" if with_reason else None
            change = partial(
                service.record_payment,
                project,
                amount_pence=value,
                paid_on=date(2021, 5, 1),
                reference=None,
                note=None,
                reason=reason,
                by=finance,
            )
            if expected_paid + value > expected_award and not reason:
                refused(change, says=f"more than the award of {format_pence(expected_award)}", field="reason")
            else:
                entries.append(change())
                expected_paid += value
        elif operation == "reverse" and entries:
            target = entries[value % len(entries)]
            change = partial(service.reverse_payment, target, reason="Paid to the wrong project", by=finance)
            if target.kind == REVERSAL:
                refused(change, says="Only a payment can be reversed", field=None)
            elif target.id in reversed_ids:
                refused(change, says="This payment has already been reversed", field=None)
            else:
                entries.append(change())
                reversed_ids.add(target.id)
                expected_paid -= target.amount_pence
        elif operation == "vary":
            to_pence = expected_award if value is None else value
            over = others_awarded + to_pence - stream_total if to_pence > expected_award else 0
            change = partial(
                service.vary_award,
                project,
                to_pence=to_pence,
                reason="Agreed variation",
                by=finance,
                over_allocation_confirmed=str(over) if with_reason else None,
            )
            if to_pence == expected_award:
                refused(change, says=f"The award is already {format_pence(to_pence)}", field="amount")
            elif over > 0 and not with_reason:
                refused(change, says=f"over by {format_pence(over)}", field="confirm_over_allocation")
            else:
                change()
                expected_award = to_pence
    db.session.commit()
    ledger = service.project_ledger(project)
    assert ledger.award_pence == expected_award == project.amount_pence
    assert ledger.paid_pence == expected_paid == service.net_paid(project)
    running = 0
    for entry in ledger.entries:
        running += entry.amount_pence
        assert entry.balance_pence == running
    assert ledger.balance_pence == expected_award - expected_paid
    assert isinstance(ledger.balance_pence, int)


# -- payments ------------------------------------------------------------------------------------


def test_finance_records_a_payment_and_the_stream_figures_follow(client, world, login):
    login(client, world["finance"])
    response = pay(client, project_of(world), amount="2500.50")
    assert response.status_code == 302
    payment = db.session.scalar(select(Payment))
    assert (payment.amount_pence, payment.paid_on, payment.reference) == (250_050, date(2021, 5, 1), "BACS-1")
    assert payment.recorded_by_id == world["finance"].id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payment.recorded"))
    assert event.details["amount_pence"] == 250_050
    page = client.get(f"/finance/projects/{payment.project_id}").text
    assert 'data-figure="paid">£2,500.50' in page
    assert 'data-figure="balance">£7,499.50' in page


@freeze_time("2021-06-01 12:00:00")
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "0"}, "Amount must be more than £0.00"),
        ({"amount": "-5"}, "Amount must not be negative"),
        ({"amount": "12.345"}, "Amount must have no more than 2 decimal places"),
        ({"amount": "ten pounds"}, "Amount must be a number of pounds"),
        ({"amount": ""}, "Enter the amount paid"),
        ({"paid_on": ["2", "6", "2021"]}, "Date paid must be today or in the past"),
        ({"paid_on": ["31", "2", "2021"]}, "Date paid must be a real date"),
        ({"paid_on": ["", "", ""]}, "Enter the date the payment was made"),
        ({"amount": "10000.01"}, "more than the award of £10,000.00: give a reason"),
        ({"reference": "x" * 101}, "Reference must be 100 characters or fewer"),
        ({"note": "bad\x00byte"}, "must not contain control characters"),
    ],
)
def test_bad_payments_are_refused_with_a_message_and_nothing_written(client, world, login, fields, message):
    login(client, world["finance"])
    before = counts()
    response = pay(client, project_of(world), **fields)
    assert response.status_code == 422
    assert message in response.text
    assert "There is a problem" in response.text
    assert counts() == before


def test_paying_over_the_award_with_a_reason_is_accepted(client, world, login):
    login(client, world["finance"])
    response = pay(client, project_of(world), amount="10000.01", reason="Agreed extra penny")
    assert response.status_code == 302
    assert db.session.scalar(select(Payment.reason)) == "Agreed extra penny"


def test_a_payment_is_reversed_never_deleted(client, world, login):
    login(client, world["finance"])
    pay(client, project_of(world), amount="500.00")
    payment = db.session.scalar(select(Payment))
    assert client.post(f"/finance/payments/{payment.id}/reverse", data={"reason": ""}).status_code == 422
    response = client.post(f"/finance/payments/{payment.id}/reverse", data={"reason": "Paid to the wrong project"})
    assert response.status_code == 302
    entries = db.session.scalars(select(Payment).order_by(Payment.id)).all()
    assert [(e.kind, e.amount_pence, e.reverses_id) for e in entries] == [
        ("payment", 50_000, None),
        ("reversal", 50_000, payment.id),
    ]
    assert service.net_paid(project_of(world)) == 0
    # A second reversal of the same payment is refused.
    again = client.post(f"/finance/payments/{payment.id}/reverse", data={"reason": "again"})
    assert again.status_code == 409 and "already been reversed" in again.text
    page = client.get(f"/finance/projects/{payment.project_id}").text
    assert "Paid to the wrong project" in page and "Reversed" in page


def test_the_database_refuses_to_change_or_delete_a_payment(world):
    project = project_of(world)
    service.record_payment(
        project, amount_pence=100, paid_on=date(2021, 5, 1), reference=None, note=None, reason=None, by=world["finance"]
    )
    db.session.commit()
    with pytest.raises(DatabaseError), db.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM payment")
    with pytest.raises(DatabaseError), db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE payment SET amount_pence = 1")
    assert db.session.scalar(select(Payment.amount_pence)) == 100


# -- variations ---------------------------------------------------------------------------------


def test_variations_keep_the_original_and_every_change(client, world, login):
    login(client, world["finance"])
    project = project_of(world)
    assert (
        client.post(
            f"/finance/projects/{project.id}/variations",
            data={"amount": "12000.00", "reason": "Extra quarter of helpline"},
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"/finance/projects/{project.id}/variations", data={"amount": "11000.00", "reason": "Returned unused funds"}
        ).status_code
        == 302
    )
    variations = db.session.scalars(select(AwardVariation).order_by(AwardVariation.id)).all()
    assert [(v.from_pence, v.to_pence, v.reason) for v in variations] == [
        (1_000_000, 1_200_000, "Extra quarter of helpline"),
        (1_200_000, 1_100_000, "Returned unused funds"),
    ]
    assert all(v.varied_by_id == world["finance"].id and v.varied_at for v in variations)
    page = client.get(f"/finance/projects/{project.id}").text
    assert "Original award" in page and "£10,000.00" in page and 'data-figure="award">£11,000.00' in page
    assert "Extra quarter of helpline" in page and "Returned unused funds" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "10000.00", "reason": "same"}, "already £10,000.00"),
        ({"amount": "9000", "reason": ""}, "Enter the reason"),
    ],
)
def test_bad_variations_are_refused(client, world, login, data, message):
    login(client, world["finance"])
    before = counts()
    response = client.post(f"/finance/projects/{project_of(world).id}/variations", data=data)
    assert response.status_code == 422 and message in response.text
    assert counts() == before


def test_over_allocation_is_confirmed_then_shown_on_every_finance_page(client, world, login):
    login(client, world["finance"])
    project = project_of(world)
    data = {"amount": "30000.00", "reason": "Big year"}
    refused = client.post(f"/finance/projects/{project.id}/variations", data=data)
    assert refused.status_code == 422 and "over by £5,782.00" in refused.text
    # £34,218 received; awards now £30,000 + £10,000.
    confirmed = client.post(
        f"/finance/projects/{project.id}/variations", data={**data, "confirm_over_allocation": "578200"}
    )
    assert confirmed.status_code == 302
    page = client.get("/finance/2021-22/").text
    assert "Over-allocated" in page and 'data-figure="unallocated">£5,782.00' in page
    for path in (f"/finance/projects/{project.id}", "/finance/2021-22/reconciliation", "/finance/2021-22/ledger"):
        page = client.get(path).text
        assert "Over-allocated: PCC Crime Reduction Grant has £40,000.00 awarded" in page, path
        assert "over by £5,782.00" in page, path


# -- schedule -----------------------------------------------------------------------------------


@freeze_time("2021-08-01 12:00:00")
def test_schedule_states_follow_payments_and_approved_returns(client, world, login):
    login(client, world["finance"])
    project = project_of(world)
    two_thirds = {"amount": "6666.67", "due_on": ["1", "4", "2021"], "after_quarter": "", "note": "Up front"}
    rest = {"amount": "3333.33", "due_on": ["", "", ""], "after_quarter": "2", "note": "After Q2"}
    assert client.post(f"/finance/projects/{project.id}/instalments", data=two_thirds).status_code == 302
    assert client.post(f"/finance/projects/{project.id}/instalments", data=rest).status_code == 302
    states = [state for _, state in service.project_ledger(project).schedule()]
    assert states == ["Due", "Held"]
    pay(client, project, amount="6666.67")
    assert [state for _, state in service.project_ledger(project).schedule()] == ["Paid", "Held"]
    db.session.add(MonitoringReturn(project_id=project.id, quarter=2, status="approved"))
    db.session.commit()
    assert [state for _, state in service.project_ledger(project).schedule()] == ["Paid", "Due"]


# -- year end -----------------------------------------------------------------------------------


def test_reconciliation_shows_underspend_to_recover_and_spent_beyond_payments(client, world, login):
    login(client, world["finance"])
    davss, kenward = project_of(world), project_of(world, "kenward_project")
    for project, paid, reference in ((davss, "8000.00", "BACS-1"), (kenward, "1000.00", "BACS-2")):
        assert pay(client, project, amount=paid, reference=reference).status_code == 302
    db.session.add_all(
        [
            MonitoringReturn(project_id=davss.id, quarter=1, status="approved", spend_pence=500_000),
            MonitoringReturn(project_id=kenward.id, quarter=1, status="submitted", spend_pence=250_000),
            MonitoringReturn(project_id=kenward.id, quarter=2, status="draft", spend_pence=999_999),
        ]
    )
    db.session.commit()
    page = client.get("/finance/2021-22/reconciliation").text
    assert "£3,000.00" in page  # DAVSS: paid 8,000 - spend 5,000 to recover
    assert "£1,500.00" in page  # Kenward: spend 2,500 - paid 1,000 spent beyond payments (the draft does not count)
    assert "Underspend to recover" in page and "Spent beyond payments" in page and "Overspend" not in page
    assert "it may be owed to the partner" in page


def close(client, year="2021-22"):
    # The year's quarters have no approved returns: closing it needs a reason.
    return client.post(f"/finance/{year}/close", data={"confirm": "y", "reason": "Closing with returns outstanding"})


def test_closing_needs_confirmation_and_is_audited(client, world, login):
    login(client, world["finance"])
    response = client.post("/finance/2021-22/close", data={})
    assert response.status_code == 422 and "Confirm that you understand" in response.text
    assert close(client).status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "financial_year.closed"))
    assert event.actor_id == world["finance"].id


def test_a_closed_year_refuses_changes_by_every_path(app, client, world, login, runner, tmp_path):
    login(client, world["finance"])
    project = project_of(world)
    pay(client, project, amount="100.00")
    payment = db.session.scalar(select(Payment))
    assert close(client).status_code == 302
    before = counts()

    # Finance forms.
    assert pay(client, project, amount="1.00").status_code == 409
    assert client.post(f"/finance/payments/{payment.id}/reverse", data={"reason": "x"}).status_code == 409
    assert (
        client.post(f"/finance/projects/{project.id}/variations", data={"amount": "1.00", "reason": "x"}).status_code
        == 409
    )
    assert (
        client.post(
            f"/finance/projects/{project.id}/instalments", data={"amount": "1.00", "after_quarter": ""}
        ).status_code
        == 409
    )

    # The partner's return, as a page and as an htmx autosave.
    partner = app.test_client()
    login(partner, world["partner_a"])
    form = {"version": "0", "progress": "late text", "save_later": "x"}
    assert partner.post(f"/partner/projects/{project.id}/q1/narrative", data=form).status_code == 409
    autosave = partner.post(
        f"/partner/projects/{project.id}/q1/narrative", data={**form, "autosave": "1"}, headers={"HX-Request": "true"}
    )
    assert autosave.status_code == 409 and "closed" in autosave.text
    assert db.session.scalar(select(func.count()).select_from(MonitoringReturn)) == 0

    # The CSU's rating.
    csu = app.test_client()
    login(csu, world["csu"])
    assert (
        csu.post(f"/csu/projects/{project.id}", data={"quarter": "1", "rag": "red", "reason": "x"}).status_code == 409
    )

    # The year import.
    year_file = tmp_path / "year.yaml"
    year_file.write_text('financial_year: "2021-22"\nfunding_streams:\n  - {name: X, funder: Y, amount: 1}\n')
    result = runner.invoke(args=["year", "import", str(year_file)])
    assert result.exit_code != 0 and "closed" in (result.stderr or result.output)

    assert counts() == before
    assert db.session.get(Project, project.id).amount_pence == 1_000_000


def test_only_admin_reopens_a_year_and_with_a_reason(app, client, world, login):
    login(client, world["finance"])
    close(client)
    assert client.post("/finance/2021-22/reopen", data={"reason": "Late invoice"}).status_code == 403
    admin = app.test_client()
    login(admin, world["admin"])
    assert admin.post("/finance/2021-22/reopen", data={"reason": ""}).status_code == 422
    assert admin.post("/finance/2021-22/reopen", data={"reason": "Late invoice"}).status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "financial_year.reopened"))
    assert event.details["reason"] == "Late invoice"
    assert pay(client, project_of(world), amount="1.00").status_code == 302


# -- who may ------------------------------------------------------------------------------------


def test_csu_reads_finance_pages_but_cannot_change_them(client, world, login):
    login(client, world["csu"])
    project = project_of(world)
    assert client.get(f"/finance/projects/{project.id}").status_code == 200
    assert "Record a payment" not in client.get(f"/finance/projects/{project.id}").text
    before = counts()
    assert pay(client, project).status_code == 403
    assert (
        client.post(f"/finance/projects/{project.id}/variations", data={"amount": "1", "reason": "x"}).status_code
        == 403
    )
    assert close(client).status_code == 403
    assert counts() == before


def test_partners_get_404_for_finance_and_see_their_own_payments_on_their_home(app, client, world, login):
    finance = app.test_client()
    login(finance, world["finance"])
    assert pay(finance, project_of(world), amount="750.00").status_code == 302
    assert pay(finance, project_of(world, "kenward_project"), amount="333.00", reference="BACS-2").status_code == 302
    login(client, world["partner_a"])
    assert client.get("/finance/2021-22/").status_code == 404
    assert client.get(f"/finance/projects/{world['davss_project'].id}").status_code == 404
    assert pay(client, project_of(world)).status_code == 404
    home = client.get("/partner/2021-22/").text
    assert "£750.00" in home and "£333.00" not in home
    project_page = client.get(f"/partner/projects/{world['davss_project'].id}").text
    assert "Payment" in project_page and "BACS-1" in project_page and "£9,250.00" in project_page
    assert client.get(f"/partner/projects/{world['kenward_project'].id}").status_code == 404


def test_ledger_page_lists_every_entry_with_a_running_balance(client, world, login):
    login(client, world["finance"])
    project = project_of(world)
    pay(client, project, amount="4000.00")
    client.post(f"/finance/projects/{project.id}/variations", data={"amount": "12000.00", "reason": "More"})
    page = client.get("/finance/2021-22/ledger").text
    page = page[page.index("<table") :]  # after the flashed messages, which name the amounts too
    assert page.index("Original award") < page.index("£4,000.00")
    assert "£6,000.00" in page  # 10,000 - 4,000
    assert "£8,000.00" in page  # + 2,000 variation


@pytest.mark.parametrize("path", ["/finance/2021-22/", "/finance/2021-22/ledger", "/finance/2021-22/reconciliation"])
def test_finance_pages_issue_a_fixed_number_of_queries(
    client, make_org, make_year, make_stream, make_project, make_user, login, count_queries, path
):
    stream = make_stream(make_year(2021))
    org = make_org("BIG")
    finance = make_user("fin@x.example", ("finance",))
    login(client, finance)
    made: list = []

    def grow(count):
        for number in range(len(made), len(made) + count):
            project = make_project(org, stream, f"Project {number:03d}")
            made.append(project)
            db.session.add_all(
                [
                    Payment(project=project, amount_pence=100, paid_on=date(2021, 5, 1), recorded_by_id=finance.id),
                    AwardVariation(
                        project=project, from_pence=1_000_000, to_pence=1_000_100, reason="x", varied_by_id=finance.id
                    ),
                    PaymentInstalment(project=project, number=1, amount_pence=100, after_quarter=1),
                    MonitoringReturn(project_id=project.id, quarter=1, status="approved", spend_pence=50),
                ]
            )
        db.session.commit()

    counts = []
    for size in (5, 195):
        grow(size)
        with count_queries() as counter:
            assert client.get(path).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
