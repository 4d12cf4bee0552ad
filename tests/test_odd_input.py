"""Odd input (RELIABILITY.md B1, B9, B10): lone surrogates, a right-to-left override, zero-width characters, emoji,
`-0`, a Unicode minus, 4,000-digit numbers, SQL and markup, typed into a partner's return, the sign-in form and a
finance payment. Text is stored exactly as typed and shown escaped; a number that is not one is refused beside its
field with what was typed kept; never a 500, never anything half saved. Then a property-based run of the money and
quantity parsers (hypothesis).
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from portal.extensions import db
from portal.models import OutboxMessage, Payment
from portal.money import MAX_PENCE, MoneyError, format_pence, pence_from_pounds
from portal.quantities import MAX_QUANTITY, QuantityError, parse_quantity, plain_quantity
from portal.services.redaction import _redact_mail
from tests.conftest import TEST_PASSWORD
from tests.test_returns_safety import LATER, NARRATIVE, SAVE, measure_id, snapshot, the_return, url

ODD_TEXT = {
    "rtl-override": "Paid \u202egnp.exe\u202c in full",
    "zero-width": "zero\u200bwidth\u200cnon\u200djoiner\ufeffmark\u2060",
    "emoji": "Helped 👩🏽‍🦰 and 🧑‍🤝‍🧑 families 🎉",
    "sql": "' OR 1=1--",
    "sql-drop": '"; DROP TABLE monitoring_return;--',
    "wildcards": "100% of _all_ \\cases",
    "script": "<script>alert(1)</script>",
    "combining": "Ze\u0301ro Z\u0334\u0335\u0336algo",
    "astral": "\U0001d54f\U0001d560\U0001d566\U00010348",
}
ODD_NUMBERS = {
    "minus-zero": "-0",
    "unicode-minus": "\u22125",
    "minus-sign-modifier": "\u02d75",
    "full-width-minus": "\uff0d5",
    "4000-digits": "9" * 4000,
    "4000-digits-with-pence": "1" * 4000 + ".00",
    "5000-digit-zeros": "0" * 5000 + "1",
    "float-overflow": "1e309",
    "past-64-bit": "9223372036854775808",
    "sql": "' OR 1=1--",
    "script": "<script>alert(1)</script>",
    "zero-width-inside": "1\u200b000",
    "rtl-override": "\u202e0001",
    "emoji-keycap": "1\ufe0f\u20e3",
    "superscript": "\u00b2",
}
# The bytes of a lone surrogate (U+D800 as CESU-8 / WTF-8): no browser sends it, a script can.
LONE_SURROGATE = "\ud800".encode("utf-8", "surrogatepass")


def shown(text: str) -> str:
    """How Jinja writes the text into a page: escaped, quotes as numeric references."""
    return str(escape(text))


def raw_post(client, path: str, fields: dict[str, str | bytes]):
    """A urlencoded form with exactly these bytes: the test client would refuse to encode a lone surrogate."""
    body = urlencode({name: value.encode() if isinstance(value, str) else value for name, value in fields.items()})
    return client.post(path, data=body, content_type="application/x-www-form-urlencoded")


def refused_beside(response, name: str, typed: str) -> None:
    """422, the error summary linking to the field, the message beside it, what was typed back in the box."""
    assert response.status_code == 422, response.status_code
    page = response.text
    assert "There is a problem" in page
    assert f'href="#{name}"' in page
    assert f'id="{name}-error"' in page
    assert shown(typed) in page


def database_snapshot() -> dict[str, list[str]]:
    db.session.rollback()
    return {
        table.name: sorted(repr(tuple(row)) for row in db.session.execute(sa.select(table)))
        for table in db.Model.metadata.sorted_tables
    }


@pytest.fixture
def app_config():
    """Many refused sign-ins in one test: the per-account limit is not what is tested here."""
    return {"SIGN_IN_MAX_FAILURES": 1000, "SIGN_IN_MAX_PER_CLIENT": 1000}


@pytest.fixture
def partner(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["partner_a"])
    return client


# -- a partner's return: text -------------------------------------------------------------------


def test_odd_text_in_a_narrative_is_stored_as_typed_and_shown_escaped(app, partner, two_orgs, login):
    project = two_orgs["davss_project"]
    csu = app.test_client()
    login(csu, two_orgs["csu"])
    for kind, odd in ODD_TEXT.items():
        typed = f"Before {odd} after"
        version = str(the_return(project).version) if the_return(project) else "0"
        data = {"version": version, **NARRATIVE, "progress": typed, "case_study": odd, **SAVE}
        response = partner.post(url(project, 1, "narrative"), data=data)
        assert response.status_code == 302, kind
        db.session.expire_all()
        assert (the_return(project).progress, the_return(project).case_study) == (typed, odd), kind
        for page in (partner.get(url(project, 1, "narrative")), csu.get(f"/csu/returns/{the_return(project).id}")):
            assert page.status_code == 200, kind
            assert shown(typed) in page.text, kind
            assert "<script>alert(1)" not in page.text


def test_a_lone_surrogate_in_a_narrative_is_never_a_500(partner, two_orgs):
    """Werkzeug decodes the form leniently: the broken character arrives as U+FFFD, which is stored and shown."""
    project = two_orgs["davss_project"]
    fields = {**NARRATIVE, "version": "0", "save_later": "x", "progress": b"Before " + LONE_SURROGATE + b" after"}
    response = raw_post(partner, url(project, 1, "narrative"), fields)
    assert response.status_code == 302, response.text
    db.session.expire_all()
    stored = the_return(project).progress
    assert stored.startswith("Before ") and stored.endswith(" after")
    assert "\ud800" not in stored  # nothing a UTF-8 database could not hold
    assert stored.encode("utf-8")  # and it encodes
    assert shown(stored) in partner.get(url(project, 1, "narrative")).text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(max_size=200))
def test_any_text_in_a_narrative_is_stored_as_typed_or_refused_beside_it(partner, two_orgs, typed):
    """Hypothesis over st.text(): saved exactly (less surrounding spaces) and shown escaped, or a 422 with the
    message beside the field and nothing saved; never anything else."""
    project = two_orgs["davss_project"]
    before = snapshot(project)
    version = str(before[0][1]) if before[0] else "0"
    response = partner.post(url(project, 1, "narrative"), data={"version": version, "challenges": typed, **LATER})
    if response.status_code == 422:
        assert 'id="challenges-error"' in response.text
        assert snapshot(project) == before
        return
    assert response.status_code == 302, response.status_code
    db.session.expire_all()
    assert the_return(project).challenges == (typed.strip() or None)
    if typed.strip():
        assert shown(typed.strip()) in partner.get(url(project, 1, "narrative")).text


# -- a partner's return: numbers ----------------------------------------------------------------


@pytest.mark.parametrize("which", ["outputs", "spend"])
def test_an_odd_number_in_a_return_is_refused_beside_its_field(partner, two_orgs, which):
    project = two_orgs["davss_project"]
    before = snapshot(project)
    name = f"m{measure_id(project)}" if which == "outputs" else "spend"
    for typed in ODD_NUMBERS.values():
        for button in (LATER, SAVE):
            response = partner.post(url(project, 1, which), data={"version": "0", name: typed, **button})
            refused_beside(response, name, typed)
    assert snapshot(project) == before


def test_a_lone_surrogate_in_a_number_is_refused_beside_its_field(partner, two_orgs):
    project = two_orgs["davss_project"]
    before = snapshot(project)
    response = raw_post(partner, url(project, 1, "spend"), {"version": "0", "spend": b"1" + LONE_SURROGATE, **LATER})
    assert response.status_code == 422
    assert 'id="spend-error"' in response.text
    assert snapshot(project) == before


# -- sign-in ------------------------------------------------------------------------------------


def test_odd_text_at_sign_in_is_a_refusal_beside_the_email(app, two_orgs):
    client = app.test_client()
    users = database_snapshot()["user"]
    for field in ("email", "password"):
        for kind, odd in ODD_TEXT.items():
            response = client.post("/sign-in", data={"email": "a@davss.example", "password": TEST_PASSWORD, field: odd})
            assert response.status_code == 422, (field, kind)  # the one message for any refused sign-in
            assert 'href="#email"' in response.text and 'id="email-error"' in response.text
            if field == "email":
                assert shown(odd) in response.text  # kept in the box
            assert TEST_PASSWORD not in response.text and "<script>alert(1)" not in response.text
    assert database_snapshot()["user"] == users
    assert client.get("/partner/").status_code == 302  # not signed in


def test_sql_in_the_email_signs_no_one_in_even_with_a_real_password(app, two_orgs):
    client = app.test_client()
    for email in ("a@davss.example' OR 1=1--", "' OR '1'='1", "a@davss.example'--", "%@davss.example", "_@davss.ex%"):
        response = client.post("/sign-in", data={"email": email, "password": TEST_PASSWORD})
        assert response.status_code == 422, email
        assert 'id="email-error"' in response.text
    assert client.get("/partner/").status_code == 302


@pytest.mark.parametrize("field", ["email", "password"])
def test_a_lone_surrogate_at_sign_in_is_a_refusal_not_a_500(app, two_orgs, field):
    client = app.test_client()
    fields: dict[str, str | bytes] = {"email": "a@davss.example", "password": TEST_PASSWORD}
    fields[field] = b"a" + LONE_SURROGATE
    response = raw_post(client, "/sign-in", fields)
    assert response.status_code == 422
    assert 'id="email-error"' in response.text
    assert client.get("/partner/").status_code == 302


# -- a finance payment --------------------------------------------------------------------------


def pay(client, project, **fields):
    data = {"amount": "1000.00", "paid_on": ["1", "5", "2021"], "reference": "", "note": "", "reason": ""}
    return client.post(f"/finance/projects/{project.id}/payments", data={**data, **fields})


@pytest.fixture
def finance(app, two_orgs, login):
    client = app.test_client()
    login(client, two_orgs["finance"])
    return client


def test_an_odd_amount_is_refused_beside_the_field_and_nothing_is_written(finance, two_orgs):
    before = database_snapshot()
    for typed in ODD_NUMBERS.values():
        response = pay(finance, two_orgs["davss_project"], amount=typed)
        refused_beside(response, "amount", typed)
    assert database_snapshot() == before


def test_odd_text_in_a_payment_is_stored_as_typed_and_shown_escaped(finance, two_orgs):
    project = two_orgs["davss_project"]
    for kind, odd in ODD_TEXT.items():
        response = pay(finance, project, amount="1.00", reference=f"{kind}: {odd}", note=odd)
        assert response.status_code == 302, kind
        payment = db.session.scalar(sa.select(Payment).where(Payment.reference == f"{kind}: {odd}"))
        assert payment is not None and payment.note == odd, kind
        page = finance.get(f"/finance/projects/{project.id}").text
        assert shown(odd) in page, kind
        assert "<script>alert(1)" not in page


def test_a_right_to_left_override_in_a_note_cannot_reorder_who_recorded_it(finance, two_orgs):
    """The note is followed by the recorder's name in the same cell: both are isolated (<bdi>), so an override
    typed in the note ends with it."""
    project = two_orgs["davss_project"]
    assert pay(finance, project, note="Paid \u202ein full").status_code == 302
    page = finance.get(f"/finance/projects/{project.id}").text
    assert "<bdi>Paid \u202ein full</bdi>" in page
    assert f"(<bdi>{two_orgs['finance'].name}</bdi>)" in page


def test_a_lone_surrogate_in_an_amount_is_refused_and_nothing_is_written(finance, two_orgs):
    before = database_snapshot()
    fields = {"amount": b"10" + LONE_SURROGATE, "paid_on": "1", "reference": "", "note": "", "reason": ""}
    response = raw_post(finance, f"/finance/projects/{two_orgs['davss_project'].id}/payments", fields)
    assert response.status_code == 422
    assert 'id="amount-error"' in response.text
    assert database_snapshot() == before


# -- oversized text and line breaks ----------------------------------------------------------------


def test_oversized_narratives_are_a_message_or_a_413_never_saved(partner, two_orgs):
    project = two_orgs["davss_project"]
    before = snapshot(project)
    long = partner.post(url(project, 1, "narrative"), data={"version": "0", "progress": "x" * 100_000, **LATER})
    assert long.status_code == 422
    assert "Progress this quarter must be 5,000 characters or fewer" in long.text
    # Over a megabyte (MAX_FORM_MEMORY_SIZE bounds multipart forms; these are urlencoded): the same message.
    big = partner.post(url(project, 1, "narrative"), data={"version": "0", "progress": "x" * 1_200_000, **LATER})
    assert big.status_code == 422
    assert "Progress this quarter must be 5,000 characters or fewer" in big.text
    # Ten megabytes, past MAX_CONTENT_LENGTH (2 MB): the "too large" page, before anything is read.
    huge = partner.post(url(project, 1, "narrative"), data={"version": "0", "progress": "x" * (10 << 20), **LATER})
    assert huge.status_code == 413
    assert "What you sent is too large" in huge.text
    assert snapshot(project) == before


def test_a_line_break_in_a_logged_path_stays_inside_one_json_line(app, two_orgs, login, caplog):
    caplog.set_level(logging.WARNING, logger="portal.security")
    client = app.test_client()
    login(client, two_orgs["partner_a"])
    forged = '/csu/%0D%0A{"event": "sign_in.succeeded", "user_id": 5}/'
    assert client.get(forged).status_code == 404
    records = [record.getMessage() for record in caplog.records if record.name == "portal.security"]
    assert records
    for message in records:
        assert "\n" not in message and "\r" not in message
        assert json.loads(message)["user_id"] == two_orgs["partner_a"].id
    assert json.loads(records[-1])["path"].startswith("/csu/\r\n")


# -- the one LIKE ---------------------------------------------------------------------------------


@pytest.mark.parametrize("passage", ["%", "_", "\\", "' OR 1=1--"])
def test_the_one_like_search_treats_wildcards_and_sql_as_text(app, passage):
    """Redaction finds mail quoting a passage with LIKE: `%` must not select every message."""
    quoting = OutboxMessage(
        kind="invitation", to_address="a@davss.example", subject="S", text_body=f"Said {passage} here", html_body="H"
    )
    other = OutboxMessage(
        kind="invitation", to_address="a@davss.example", subject="S", text_body="Nothing", html_body="H"
    )
    db.session.add_all([quoting, other])
    db.session.commit()
    assert _redact_mail(passage) == 1
    assert quoting in db.session.dirty
    assert other not in db.session.dirty  # never selected, so never even touched
    db.session.rollback()


# -- the parsers, property-based ----------------------------------------------------------------

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(st.one_of(st.text(), st.integers(), st.decimals(), st.floats(), st.booleans(), st.none(), st.binary()))
# Found by this test: a whole number past 28 digits made quantize() raise InvalidOperation (a 500 on import).
@example(10**29)
@example(Decimal("9E+999999"))
@example(Decimal("1E-999999"))
@example("9" * 4000)
@example("\u22125")
def test_the_money_parser_raises_only_its_own_error(value):
    try:
        pence = pence_from_pounds(value)
    except MoneyError:
        return
    assert isinstance(pence, int) and 0 <= pence <= MAX_PENCE


@FAST
@given(st.integers(min_value=0, max_value=MAX_PENCE))
def test_pence_round_trip_through_the_typed_form(pence):
    typed = format_pence(pence, sign=False).replace(",", "")
    assert pence_from_pounds(typed) == pence
    assert pence_from_pounds(Decimal(pence) / 100) == pence


@FAST
@given(
    st.one_of(st.text(), st.integers(), st.decimals(), st.floats(), st.booleans(), st.none(), st.binary()),
    st.booleans(),
)
@example(10**29, True)
@example(Decimal("9E+999999"), True)
@example("9" * 4000, False)
@example("-0", False)
def test_the_quantity_parser_raises_only_its_own_error(value, decimals):
    try:
        number = parse_quantity(value, decimals=decimals)
    except QuantityError:
        return
    assert isinstance(number, Decimal) and 0 <= number <= MAX_QUANTITY
    assert decimals or number == number.to_integral_value()


@FAST
@given(st.decimals(min_value=0, max_value=MAX_QUANTITY, places=2), st.booleans())
def test_quantities_round_trip_through_the_typed_form(value, decimals):
    if not decimals:
        value = value.to_integral_value()
    assert parse_quantity(plain_quantity(value), decimals=decimals) == value
