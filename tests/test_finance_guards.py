"""Finance's guard rails (issue 9): each is refused or asked with its message beside the field, nothing is written
until the person confirms or explains, and the confirmation is in the audit trail. Also the money in the success
messages and the reconciliation's column names."""

from __future__ import annotations

import lxml.html
import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    AwardVariation,
    FinancialYear,
    MonitoringReturn,
    Payment,
    PaymentInstalment,
    Project,
    ReturnArrangement,
)
from portal.services import ledger

DAVSS = "DAVSS: Support for Medium & High Risk Victims - Domestic Abuse"


@pytest.fixture
def clock(request):
    """The time a test runs at, set with `@pytest.mark.parametrize("clock", [...], indirect=True)`; else now.
    Frozen before signing in, which a session from another time would undo."""
    if not hasattr(request, "param"):
        yield
        return
    with freeze_time(request.param):
        yield


def at(moment: str):
    return pytest.mark.parametrize("clock", [moment], indirect=True, ids=[moment])


@pytest.fixture
def world(clock, two_orgs, login, client):
    """Two £10,000 awards from the £34,218 PCC grant of 2021-22, and finance signed in."""
    login(client, two_orgs["finance"])
    return two_orgs


def snapshot() -> dict:
    """Everything a guard rail must leave alone until it is confirmed."""
    return {
        "rows": {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Payment, AwardVariation, PaymentInstalment, AuditEvent)
        },
        "awards": db.session.execute(select(Project.id, Project.amount_pence).order_by(Project.id)).all(),
        "closed": db.session.execute(select(FinancialYear.id, FinancialYear.closed_at)).all(),
    }


def error_beside(response, field: str) -> str:
    """The GOV.UK error message beside a field (by its id), which the error summary also links to."""
    page = lxml.html.fromstring(response.text)
    beside = page.get_element_by_id(f"{field}-error").text_content()
    summary = {
        link.get("href"): link.text_content()
        for link in page.xpath("//div[contains(@class, 'govuk-error-summary')]//a")
    }
    assert summary[f"#{field}"] in beside
    return " ".join(beside.replace("Error:", "").split())


def checkbox(response, field: str):
    """The confirmation box the page asks with (its value is what it confirms), or None when not asked."""
    found = lxml.html.fromstring(response.text).xpath(f"//input[@type='checkbox'][@name='{field}']")
    return found[0] if found else None


def flashed(client, project) -> str:
    return " ".join(lxml.html.fromstring(client.get(f"/finance/projects/{project.id}").text).text_content().split())


def audit_events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def pay(client, project, **fields):
    data = {"amount": "1000.00", "paid_on": ["1", "5", "2021"], "reference": "", "note": "", "reason": ""}
    return client.post(f"/finance/projects/{project.id}/payments", data={**data, **fields})


def vary(client, project, **fields):
    data = {"amount": "30000.00", "reason": "Extra helpline year"}
    return client.post(f"/finance/projects/{project.id}/variations", data={**data, **fields})


# -- a variation past the stream's total ----------------------------------------------------------


def test_a_rise_past_the_streams_total_is_refused_with_the_figures_and_nothing_written(client, world):
    before = snapshot()
    response = vary(client, world["davss_project"])
    assert response.status_code == 422
    assert error_beside(response, "confirm_over_allocation") == (
        "This change takes PCC Crime Reduction Grant past its total of £34,218.00: £20,000.00 is awarded now and "
        "£40,000.00 would be after the change, over by £5,782.00. Enter a smaller award, or confirm the "
        "over-allocation"
    )
    box = checkbox(response, "confirm_over_allocation")
    assert box is not None and box.get("value") == "578200" and box.get("checked") is None
    assert 'value="30000.00"' in response.text  # what was typed is kept
    assert snapshot() == before


def test_the_confirmed_over_allocation_is_written_and_audited(client, world):
    project = world["davss_project"]
    response = vary(client, project, confirm_over_allocation="578200")
    assert response.status_code == 302
    variation = db.session.scalar(select(AwardVariation))
    assert (variation.from_pence, variation.to_pence, variation.reason) == (1_000_000, 3_000_000, "Extra helpline year")
    (event,) = audit_events("award.varied")
    assert event.details == {
        "from_pence": 1_000_000,
        "to_pence": 3_000_000,
        "reason": "Extra helpline year",
        "over_allocation_confirmed": True,
        "over_allocated_by_pence": 578_200,
        "stream_total_pence": 3_421_800,
        "awarded_after_pence": 4_000_000,
    }
    assert "over-allocating PCC Crime Reduction Grant by £5,782.00 (confirmed)" in event.summary
    assert "The award has been changed from £10,000.00 to £30,000.00." in flashed(client, project)


def test_a_box_ticked_for_other_figures_is_asked_again(client, world):
    """Confirming £5,782 over does not confirm £15,782 over: the figures changed, so the question is asked anew."""
    before = snapshot()
    response = vary(client, world["davss_project"], amount="40000.00", confirm_over_allocation="578200")
    assert response.status_code == 422
    assert "over by £15,782.00" in error_beside(response, "confirm_over_allocation")
    box = checkbox(response, "confirm_over_allocation")
    assert box.get("value") == "1578200" and box.get("checked") is None  # never ticked in advance
    assert snapshot() == before


def test_the_reason_is_still_required_with_the_confirmation(client, world):
    before = snapshot()
    response = vary(client, world["davss_project"], reason="", confirm_over_allocation="578200")
    assert response.status_code == 422
    assert error_beside(response, "reason") == "Enter the reason for the change"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("amount", "why"),
    [("24218.00", "exactly the stream's total"), ("9000.00", "a cut"), ("12000.00", "a rise within the total")],
)
def test_changes_that_do_not_over_allocate_are_not_asked(client, world, amount, why):
    assert vary(client, world["davss_project"], amount=amount).status_code == 302, why


def test_a_cut_while_over_allocated_is_not_asked_and_the_warning_goes_once_resolved(client, world):
    davss, kenward = world["davss_project"], world["kenward_project"]
    assert vary(client, davss, confirm_over_allocation="578200").status_code == 302
    # Still over (by £782) after a cut: not asked, still shown.
    assert vary(client, kenward, amount="5000.00", reason="Returned").status_code == 302
    for path in (f"/finance/projects/{kenward.id}", "/finance/2021-22/reconciliation", "/finance/2021-22/ledger"):
        assert "Over-allocated: PCC Crime Reduction Grant has £35,000.00 awarded" in client.get(path).text, path
    assert vary(client, kenward, amount="4000.00", reason="Returned more").status_code == 302
    for path in (f"/finance/projects/{kenward.id}", "/finance/2021-22/reconciliation", "/finance/2021-22/ledger"):
        assert "Over-allocated" not in client.get(path).text, path
    assert "Over-allocated" not in client.get("/finance/2021-22/").text


def test_the_year_import_is_not_asked_but_its_over_allocation_is_audited(world):
    """The import's file is the partnership's plan, and nobody is there to ask; the record says it was not
    confirmed by a person."""
    ledger.vary_award(
        world["davss_project"], to_pence=3_000_000, reason="Changed by the year import", by=None,
        action="award.varied_by_import",
    )  # fmt: skip
    (event,) = audit_events("award.varied_by_import")
    assert event.details["over_allocation_confirmed"] is False
    assert event.details["over_allocated_by_pence"] == 578_200


# -- a reference already used in the year -------------------------------------------------------


def test_a_reference_used_in_the_year_is_refused_saying_by_which_payment(client, world):
    assert pay(client, world["davss_project"], reference="BACS-1").status_code == 302
    before = snapshot()
    response = pay(client, world["kenward_project"], amount="250.00", reference="  bacs-1 ")
    assert response.status_code == 422
    assert error_beside(response, "confirm_reference") == (
        f"Reference bacs-1 is already used in 2021-22 by the payment of £1,000.00 to {DAVSS} on 1 May 2021. "
        "Enter a different reference, or confirm this payment is intended"
    )
    first = db.session.scalar(select(Payment))
    box = checkbox(response, "confirm_reference")
    assert box.get("value") == str(first.id) and box.get("checked") is None
    assert 'value="250.00"' in response.text and 'value="bacs-1"' in response.text
    assert snapshot() == before


def test_a_reference_confirmed_as_intended_is_written_and_audited(client, world):
    pay(client, world["davss_project"], reference="BACS-1")
    first = db.session.scalar(select(Payment))
    kenward = world["kenward_project"]
    response = pay(client, kenward, amount="250.00", reference="BACS-1", confirm_reference=str(first.id))
    assert response.status_code == 302
    second = db.session.scalar(select(Payment).where(Payment.project_id == kenward.id))
    assert (second.amount_pence, second.reference) == (25_000, "BACS-1")
    event = audit_events("payment.recorded")[-1]
    assert event.object_id == second.id
    assert event.details["confirmed_reference_used_by"] == [first.id]
    assert "confirmed although its reference was already used" in event.summary
    assert "Payment of £250.00 recorded." in flashed(client, kenward)


def test_a_ticked_box_stays_ticked_when_another_field_is_wrong(client, world):
    pay(client, world["davss_project"], reference="BACS-1")
    first = db.session.scalar(select(Payment))
    before = snapshot()
    response = pay(client, world["kenward_project"], amount="", reference="BACS-1", confirm_reference=str(first.id))
    assert response.status_code == 422
    assert error_beside(response, "amount") == "Enter the amount paid"
    box = checkbox(response, "confirm_reference")
    assert box.get("value") == str(first.id) and box.get("checked") is not None
    assert snapshot() == before


def test_a_third_use_lists_both_earlier_payments_and_needs_both_confirmed(client, world):
    davss, kenward = world["davss_project"], world["kenward_project"]
    pay(client, davss, reference="BACS-1")
    first = db.session.scalar(select(Payment))
    pay(client, kenward, amount="250.00", reference="BACS-1", confirm_reference=str(first.id))
    second = db.session.scalar(select(Payment).where(Payment.project_id == kenward.id))
    before = snapshot()
    response = pay(client, davss, amount="5.00", reference="BACS-1", confirm_reference=str(first.id))
    assert response.status_code == 422
    message = error_beside(response, "confirm_reference")
    assert "already used in 2021-22 by 2 payments: £1,000.00 to DAVSS" in message
    assert "£250.00 to Kenward: Youth Diversionary & Targeted Youth Project on 1 May 2021" in message
    assert checkbox(response, "confirm_reference").get("value") == f"{first.id},{second.id}"
    assert snapshot() == before


def test_a_reversed_payment_another_year_and_no_reference_are_not_uses(
    client, world, make_year, make_stream, make_project
):
    davss = world["davss_project"]
    pay(client, davss, reference="BACS-1")
    payment = db.session.scalar(select(Payment))
    assert client.post(f"/finance/payments/{payment.id}/reverse", data={"reason": "Wrong project"}).status_code == 302
    # The payment is reversed (and its reversal carries the reference): the reference is free again.
    assert pay(client, davss, reference="BACS-1").status_code == 302
    # Another year's payment with the same reference is not a use in this one.
    later = make_project(world["davss"], make_stream(make_year(2022)), "Next year's project")
    assert pay(client, later, reference="bacs-1", paid_on=["1", "5", "2022"]).status_code == 302
    # Payments with no reference are never asked about.
    assert pay(client, davss, amount="1.00").status_code == 302
    assert pay(client, davss, amount="1.00").status_code == 302
    assert not any("confirmed_reference_used_by" in event.details for event in audit_events("payment.recorded"))


# -- paying a held instalment ---------------------------------------------------------------------


@pytest.fixture
def schedule(client, world):
    """£6,666.67 due on 1 April, then £3,333.33 held until the Q2 return is approved; the first one paid."""
    project = world["davss_project"]
    client.post(
        f"/finance/projects/{project.id}/instalments",
        data={"amount": "6666.67", "due_on": ["1", "4", "2021"], "after_quarter": "", "note": "Up front"},
    )
    client.post(
        f"/finance/projects/{project.id}/instalments",
        data={"amount": "3333.33", "due_on": ["", "", ""], "after_quarter": "2", "note": "After Q2"},
    )
    return project


HELD = "Instalment 2 of £3,333.33 is held until the Q2 return is approved: give a reason"


@at("2021-08-01 12:00:00")
@pytest.mark.parametrize(
    ("paid_first", "amount"),
    [("6666.67", "100.00"), (None, "7000.00")],
    ids=["the next instalment is held", "a payment running into the held instalment"],
)
def test_paying_a_held_instalment_asks_for_a_reason_and_writes_nothing(client, schedule, paid_first, amount):
    if paid_first:
        assert pay(client, schedule, amount=paid_first, reference="BACS-1").status_code == 302
    assert [state for _, state in ledger.project_ledger(schedule).schedule()][-1] == "Held"
    before = snapshot()
    response = pay(client, schedule, amount=amount, reference="BACS-2")
    assert response.status_code == 422
    assert error_beside(response, "reason") == HELD
    assert snapshot() == before


@at("2021-08-01 12:00:00")
def test_a_held_instalment_paid_with_a_reason_keeps_and_audits_it(client, schedule):
    pay(client, schedule, amount="6666.67", reference="BACS-1")
    response = pay(client, schedule, amount="3333.33", reference="BACS-2", reason="Q2 return delayed by the CSU")
    assert response.status_code == 302
    payment = db.session.scalar(select(Payment).where(Payment.reference == "BACS-2"))
    assert payment.reason == "Q2 return delayed by the CSU"
    event = audit_events("payment.recorded")[-1]
    assert (event.details["held_instalment"], event.details["reason"]) == (2, "Q2 return delayed by the CSU")
    assert "while instalment 2 was held" in event.summary
    assert "Payment of £3,333.33 recorded." in flashed(client, schedule)


@at("2021-08-01 12:00:00")
def test_held_and_more_than_the_award_are_both_said(client, schedule):
    pay(client, schedule, amount="6666.67", reference="BACS-1")
    response = pay(client, schedule, amount="4000.00", reference="BACS-2")
    assert error_beside(response, "reason") == (
        "Instalment 2 of £3,333.33 is held until the Q2 return is approved, and this payment takes the total paid "
        "to £10,666.67, more than the award of £10,000.00: give a reason"
    )


@at("2021-08-01 12:00:00")
def test_once_the_return_is_approved_the_instalment_is_paid_without_a_reason(client, schedule):
    pay(client, schedule, amount="6666.67", reference="BACS-1")
    db.session.add(MonitoringReturn(project_id=schedule.id, quarter=2, status="approved"))
    assert pay(client, schedule, amount="3333.33", reference="BACS-2").status_code == 302
    assert "held_instalment" not in audit_events("payment.recorded")[-1].details


# -- the page the questions are asked on -----------------------------------------------------------


# The project page's buttons and the pages they open: heading, button, where the form posts.
FORM_PAGES = {
    "payments": ("Record a payment", "Record payment"),
    "variations": ("Change the award", "Change award"),
    "instalments": ("Plan an instalment", "Add instalment"),
}


def text_of(element) -> str:
    return " ".join(element.text_content().split())


def test_the_project_page_starts_each_change_from_a_button_and_holds_no_form_of_its_own(client, world):
    project = world["davss_project"]
    page = lxml.html.fromstring(client.get(f"/finance/projects/{project.id}").text)
    buttons = {text_of(link): link.get("href") for link in page.xpath("//main//a[contains(@class, 'govuk-button')]")}
    assert buttons == {
        heading: f"/finance/projects/{project.id}/{path}/new" for path, (heading, _) in FORM_PAGES.items()
    }
    assert page.xpath("//main//form") == []  # no instalments yet, so not even a Remove button
    assert page.xpath("//input[@name='amount']") == []


@pytest.mark.parametrize("path", FORM_PAGES)
def test_each_change_has_a_page_of_its_own_with_one_form_posting_where_it_did(client, world, path):
    project = world["davss_project"]
    heading, button = FORM_PAGES[path]
    response = client.get(f"/finance/projects/{project.id}/{path}/new")
    assert response.status_code == 200
    page = lxml.html.fromstring(response.text)
    assert text_of(page.xpath("//h1")[0]) == f"{heading} for {project.name}"
    back = page.xpath("//a[contains(@class, 'govuk-back-link')]")[0]
    assert (back.get("href"), text_of(back)) == (f"/finance/projects/{project.id}", f"Back to {project.name}")
    (form,) = page.xpath("//main//form")
    assert (form.get("method"), form.get("action")) == ("post", f"/finance/projects/{project.id}/{path}")
    assert [text_of(found) for found in form.xpath(".//button")] == [button]
    figures = {text_of(row.xpath("dt")[0]): text_of(row.xpath("dd")[0]) for row in page.xpath("//dl/div")}
    assert figures["Award now"] == "£10,000.00" and figures["Paid"] == "£0.00"
    assert "There is a problem" not in response.text


# Each form posted with one wrong value: what was typed, and the field it is wrong in.
REFUSED = {
    "payments": ({"amount": "12.345", "reference": "BACS-7", "note": "First half"}, "amount"),
    "variations": ({"amount": "9000.00", "reason": ""}, "reason"),
    "instalments": ({"amount": "ten", "after_quarter": "2", "note": "After Q2"}, "amount"),
}
MESSAGES = {
    "payments": "Amount must have no more than 2 decimal places",
    "variations": "Enter the reason for the change",
    "instalments": "Amount must be a number of pounds, like 1000.00",
}


@pytest.mark.parametrize("path", FORM_PAGES)
def test_a_refused_form_comes_back_on_its_own_page_with_what_was_typed(client, world, path):
    """The error beside its field and in the summary, the typed text kept, every label finding its own field, and
    nothing written; the page is the form's own, not the project page."""
    project = world["davss_project"]
    data, field = REFUSED[path]
    defaults = {"paid_on": ["1", "5", "2021"], "due_on": ["", "", ""]} if path != "variations" else {}
    before = snapshot()
    response = client.post(f"/finance/projects/{project.id}/{path}", data={**defaults, **data})
    assert response.status_code == 422
    page = lxml.html.fromstring(response.text)
    assert text_of(page.xpath("//h1")[0]) == f"{FORM_PAGES[path][0]} for {project.name}"
    assert page.xpath("//title")[0].text_content().startswith("Error: ")
    assert len(page.xpath("//main//form")) == 1
    assert error_beside(response, field) == MESSAGES[path]
    for name, value in data.items():  # what was typed (and chosen) is kept
        (control,) = page.xpath(f"//form//*[@name='{name}']")
        assert (control.value or "") == value, name
    ids = [element.get("id") for element in page.xpath("//*[@id]")]
    assert len(ids) == len(set(ids)), sorted({found for found in ids if ids.count(found) > 1})
    for label in page.xpath("//form//label[@for]"):
        assert page.xpath(f"//form//*[@id='{label.get('for')}']"), text_of(label)
    assert snapshot() == before


def test_the_over_allocation_question_is_asked_on_the_award_page(client, world):
    """The question and its box on the variation's own page, the stream's over-allocation figures beside it."""
    project = world["davss_project"]
    response = vary(client, project)
    page = lxml.html.fromstring(response.text)
    assert text_of(page.xpath("//h1")[0]) == f"Change the award for {project.name}"
    links = [link.get("href") for link in page.xpath("//div[contains(@class, 'govuk-error-summary')]//a")]
    assert links == ["#confirm_over_allocation"]
    assert page.xpath("//form//input[@type='checkbox'][@id='confirm_over_allocation']")


@pytest.mark.parametrize("path", FORM_PAGES)
def test_in_a_closed_year_the_pages_say_so_and_offer_no_form(client, world, path):
    project = world["davss_project"]
    assert close(client, reason="Closing early for the test").status_code == 302
    project_page = lxml.html.fromstring(client.get(f"/finance/projects/{project.id}").text)
    assert project_page.xpath("//main//a[contains(@class, 'govuk-button')]") == []
    response = client.get(f"/finance/projects/{project.id}/{path}/new")
    assert response.status_code == 200
    page = lxml.html.fromstring(response.text)
    assert page.xpath("//main//form") == []
    assert "The 2021-22 financial year is closed" in text_of(page.xpath("//main")[0])


def test_the_csu_and_partners_do_not_get_the_pages(app, world, login):
    project = world["davss_project"]
    for role, status in (("csu", 403), ("partner_a", 404)):
        visitor = app.test_client()
        login(visitor, world[role])
        assert "/payments/new" not in visitor.get(f"/finance/projects/{project.id}").text
        for path in FORM_PAGES:
            assert visitor.get(f"/finance/projects/{project.id}/{path}/new").status_code == status, (role, path)


# -- money in the success messages ----------------------------------------------------------------


def test_success_messages_show_amounts_as_money(client, world):
    project = world["davss_project"]
    pay(client, project, amount="2500", reference="BACS-1")
    assert "Payment of £2,500.00 recorded." in flashed(client, project)
    payment = db.session.scalar(select(Payment))
    client.post(f"/finance/payments/{payment.id}/reverse", data={"reason": "Wrong project"})
    assert "The payment of £2,500.00 has been reversed." in flashed(client, project)
    vary(client, project, amount="12000.5")
    assert "The award has been changed from £10,000.00 to £12,000.50." in flashed(client, project)
    client.post(f"/finance/projects/{project.id}/instalments", data={"amount": "1000", "after_quarter": ""})
    assert "Instalment 1 of £1,000.00 has been added to the schedule." in flashed(client, project)
    instalment = db.session.scalar(select(PaymentInstalment))
    client.post(f"/finance/instalments/{instalment.id}/remove")
    assert "Instalment 1 of £1,000.00 has been removed from the schedule." in flashed(client, project)


# -- the reconciliation's columns ---------------------------------------------------------------


def test_the_reconciliation_names_its_columns_for_what_they_are(client, world):
    page = lxml.html.fromstring(client.get("/finance/2021-22/reconciliation").text)
    headers = [" ".join(th.text_content().split()) for th in page.xpath("(//table)[1]/thead//th")]
    assert headers == [
        "Organisation",
        "Project",
        "Award",
        "Paid",
        "Reported spend",
        "Underspend to recover",
        "Spent beyond payments",
    ]
    assert "Spent beyond payments is final reported spend above what was paid: it may be owed to the partner." in (
        " ".join(page.text_content().split())
    )


# -- closing the year ------------------------------------------------------------------------------


def close(client, **fields):
    return client.post("/finance/2021-22/close", data={"confirm": "y", "reason": "", **fields})


@pytest.fixture
def returns(world):
    """DAVSS: Q1 approved, Q2 submitted, Q3 draft; Kenward: none."""
    project = world["davss_project"]
    db.session.add_all(
        [
            MonitoringReturn(project_id=project.id, quarter=1, status="approved"),
            MonitoringReturn(project_id=project.id, quarter=2, status="submitted"),
            MonitoringReturn(project_id=project.id, quarter=3, status="draft"),
        ]
    )
    db.session.commit()
    return world


DECEMBER_OPEN = [
    ("DAVSS", "Support for Medium & High Risk Victims - Domestic Abuse", "Q2", "Submitted"),
    ("DAVSS", "Support for Medium & High Risk Victims - Domestic Abuse", "Q3", "Draft"),
    ("Kenward", "Youth Diversionary & Targeted Youth Project", "Q1", "Not started"),
    ("Kenward", "Youth Diversionary & Targeted Youth Project", "Q2", "Not started"),
    ("Kenward", "Youth Diversionary & Targeted Youth Project", "Q3", "Not started"),
]


def open_returns(response) -> list[tuple[str, ...]]:
    page = lxml.html.fromstring(response.text)
    return [
        tuple(" ".join(cell.text_content().split()) for cell in row.xpath("td"))
        for row in page.xpath("//table[@id='open-returns']/tbody/tr")
    ]


@at("2021-12-15 12:00:00")
def test_in_december_the_page_lists_the_open_returns_and_asks_for_a_reason(client, returns):
    page = client.get("/finance/2021-22/reconciliation")
    assert open_returns(page) == DECEMBER_OPEN
    assert "The Q4 returns are not due until 14 April 2022 and 5 returns are not approved." in page.text
    assert 'name="reason"' in page.text


@at("2021-12-15 12:00:00")
def test_closing_in_december_without_a_reason_is_refused_and_nothing_written(client, returns):
    before = snapshot()
    response = close(client)
    assert response.status_code == 422
    assert error_beside(response, "reason") == (
        "The Q4 returns are not due until 14 April 2022 and 5 returns are not approved: enter why the year is being "
        "closed now"
    )
    assert open_returns(response) == DECEMBER_OPEN
    assert snapshot() == before


@at("2021-12-15 12:00:00")
def test_closing_in_december_with_a_reason_closes_and_audits_what_was_outstanding(client, returns):
    assert close(client, reason="The PCC wants the grant closed early").status_code == 302
    assert db.session.scalar(select(FinancialYear.closed_at)) is not None
    (event,) = audit_events("financial_year.closed")
    davss, kenward = returns["davss_project"].id, returns["kenward_project"].id
    assert event.details == {
        "reason": "The PCC wants the grant closed early",
        "before_q4_due": True,
        "q4_due": "2022-04-14",
        "open_returns": [
            {"project_id": davss, "quarter": 2, "status": "submitted"},
            {"project_id": davss, "quarter": 3, "status": "draft"},
            {"project_id": kenward, "quarter": 1, "status": "not_started"},
            {"project_id": kenward, "quarter": 2, "status": "not_started"},
            {"project_id": kenward, "quarter": 3, "status": "not_started"},
        ],
    }


@at("2021-12-15 12:00:00")
def test_a_quarter_the_csu_marked_not_required_is_not_an_open_return(client, returns):
    kenward = returns["kenward_project"]
    db.session.add(ReturnArrangement(project_id=kenward.id, quarter=1, not_required=True, reason="Started in July"))
    db.session.commit()
    page = client.get("/finance/2021-22/reconciliation")
    assert open_returns(page) == [row for row in DECEMBER_OPEN if row[0] != "Kenward" or row[2] != "Q1"]
    assert "4 returns are not approved" in page.text


def approve_every_return(world) -> None:
    for project in (world["davss_project"], world["kenward_project"]):
        for quarter in (1, 2, 3, 4):
            db.session.add(MonitoringReturn(project_id=project.id, quarter=quarter, status="approved"))
    db.session.commit()


# The Q4 return of 2021-22 is due on 14 April 2022, until 23:59:59 UK time (BST: 22:59:59 UTC).
@pytest.mark.parametrize(
    ("clock", "asked"),
    [("2022-04-14 22:59:59", True), ("2022-04-14 23:00:01", False)],
    ids=["on the Q4 due date", "the day after"],
    indirect=["clock"],
)
def test_with_every_return_approved_only_a_close_on_or_before_the_q4_due_date_needs_a_reason(client, world, asked):
    approve_every_return(world)
    page = client.get("/finance/2021-22/reconciliation")
    assert open_returns(page) == []
    assert ('name="reason"' in page.text) is asked
    before = snapshot()
    response = close(client)
    if asked:
        assert response.status_code == 422
        assert error_beside(response, "reason") == (
            "The Q4 returns are not due until 14 April 2022: enter why the year is being closed now"
        )
        assert snapshot() == before
    else:
        # Nothing outstanding after the due date: the confirmation box alone, as before.
        assert response.status_code == 302
        (event,) = audit_events("financial_year.closed")
        assert event.details["reason"] is None and event.details["open_returns"] == []


@at("2022-06-01 12:00:00")
def test_after_the_q4_due_date_a_return_not_approved_still_needs_a_reason(client, world):
    approve_every_return(world)
    db.session.execute(
        MonitoringReturn.__table__.update()
        .where(MonitoringReturn.project_id == world["kenward_project"].id, MonitoringReturn.quarter == 4)
        .values(status="changes_requested")
    )
    db.session.commit()
    before = snapshot()
    response = close(client)
    assert error_beside(response, "reason") == "1 return is not approved: enter why the year is being closed now"
    assert open_returns(response) == [
        ("Kenward", "Youth Diversionary & Targeted Youth Project", "Q4", "Changes requested")
    ]
    assert snapshot() == before
    assert close(client, reason="Kenward's Q4 is settled by letter").status_code == 302
    assert audit_events("financial_year.closed")[0].details["reason"] == "Kenward's Q4 is settled by letter"
