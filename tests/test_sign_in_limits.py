"""Sign-in limits (security findings S3, S9, S10, S14): per client address, per process, exact under
concurrency, the same work for every account, and no database lock held while a password is hashed."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import func, select

from portal.config import Config, from_environment
from portal.extensions import db
from portal.models import SignInFailure
from portal.services import auth as auth_service
from portal.services.passwords import _hash_slots
from tests.conftest import POSTGRES_URL, TEST_PASSWORD

WRONG = "not the password at all"
LIMITS = {"SIGN_IN_MAX_PER_CLIENT": 3, "SIGN_IN_MAX_FAILURES": 10}
CLIENT_THROTTLED = "Too many failed attempts to sign in have come from your network"


@pytest.fixture
def verifications(monkeypatch):
    """Every password verification the sign-in makes, as (stored hash, password); still really verified."""
    calls: list[tuple[str, str]] = []
    real = auth_service.verify_password

    def spy(stored: str, password: str) -> bool:
        calls.append((stored, password))
        return real(stored, password)

    monkeypatch.setattr(auth_service, "verify_password", spy)
    return calls


def sign_in(client, email: str, password: str = WRONG, *, address: str = "198.51.100.7", headers=None):
    return client.post(
        "/sign-in",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers or {},
    )


def failures() -> int:
    return db.session.scalar(select(func.count()).select_from(SignInFailure))


# -- S3: per client address, before hashing -------------------------------------------------------


@pytest.mark.parametrize("app_config", [LIMITS])
def test_spraying_many_accounts_from_one_client_is_refused_before_hashing(client, two_orgs, verifications):
    for number in range(3):
        assert sign_in(client, f"guess{number}@example.org").status_code == 422
    assert len(verifications) == 3

    response = sign_in(client, "a@davss.example", TEST_PASSWORD)  # even the right password, from this client
    assert response.status_code == 429
    assert CLIENT_THROTTLED in response.text
    assert len(verifications) == 3, "a throttled sign-in must not hash"

    # Another client is not affected, and neither is the account.
    assert sign_in(client, "a@davss.example", TEST_PASSWORD, address="203.0.113.50").status_code == 302


@pytest.mark.parametrize("app_config", [LIMITS])
def test_a_forged_x_forwarded_for_is_ignored_when_not_behind_a_proxy(client, two_orgs, verifications):
    for number in range(5):
        sign_in(client, f"guess{number}@example.org", headers={"X-Forwarded-For": f"10.9.8.{number}"})
    assert len(verifications) == 3, "changing X-Forwarded-For must not reset the client's count"


@pytest.mark.parametrize("app_config", [{**LIMITS, "PROXY_FIX_X_FOR": 1}])
def test_behind_one_proxy_the_client_is_the_forwarded_address(app, client, two_orgs, verifications):
    proxy = "10.0.0.1"
    for number in range(3):
        sign_in(client, f"guess{number}@example.org", address=proxy, headers={"X-Forwarded-For": "192.0.2.1"})
    # The proxy's own address is shared by everyone: another person behind it is not refused.
    another = {"X-Forwarded-For": "192.0.2.2"}
    response = sign_in(client, "a@davss.example", TEST_PASSWORD, address=proxy, headers=another)
    assert response.status_code == 302
    refused = sign_in(app.test_client(), "guess9@example.org", address=proxy, headers={"X-Forwarded-For": "192.0.2.1"})
    assert refused.status_code == 429
    assert len(verifications) == 4


@pytest.mark.parametrize("app_config", [LIMITS])
def test_the_per_client_limit_also_applies_to_signing_in_again_on_the_keep_text_page(app, two_orgs, verifications):
    client = app.test_client()
    for number in range(3):
        sign_in(client, f"guess{number}@example.org")
    path = f"/partner/projects/{two_orgs['davss_project'].id}/q1/narrative"
    data = {"version": "0", "progress": "Typed", "reauth": "1", "email": "a@davss.example", "password": TEST_PASSWORD}
    response = client.post(
        path, data=data, environ_base={"REMOTE_ADDR": "198.51.100.7"}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert response.status_code == 429 and CLIENT_THROTTLED in response.text
    assert len(verifications) == 3


# -- S3: a ceiling on concurrent hashes in one process ----------------------------------------------


@pytest.mark.parametrize("app_config", [{"MAX_CONCURRENT_HASHES": 1, "HASH_WAIT_SECONDS": 0.05}])
def test_when_every_hashing_turn_is_taken_sign_in_is_busy_without_hashing(app, client, two_orgs, verifications):
    slots = _hash_slots(1)
    assert slots.acquire(timeout=1)  # another sign-in in this process is hashing
    try:
        response = sign_in(client, "a@davss.example", TEST_PASSWORD)
    finally:
        slots.release()
    assert response.status_code == 503
    assert "The service is busy" in response.text
    assert verifications == []
    assert failures() == 0, "an attempt that was never checked is not counted against the person"
    assert sign_in(client, "a@davss.example", TEST_PASSWORD).status_code == 302


# -- L5: an office behind one shared address ---------------------------------------------------------


def test_fifteen_people_behind_one_address_all_sign_in_after_each_mistyped_once(app, two_orgs, make_user):
    """RELIABILITY.md L5: a charity's office behind one NAT address. With the production limits, fifteen people
    each mistype their password once (fifteen failures from the address at once), then all sign in, and each
    gets their home page: no 429 for anyone."""
    assert app.config["SIGN_IN_MAX_PER_CLIENT"] == Config.SIGN_IN_MAX_PER_CLIENT, "the production limit applies"
    office = "198.51.100.7"
    people = [make_user(f"worker{n}@davss.example", roles=("partner",), org=two_orgs["davss"]) for n in range(15)]
    browsers = [app.test_client() for _ in people]  # each person's own browser, all from the office's one address
    for person, browser in zip(people, browsers, strict=True):
        assert sign_in(browser, person.email, WRONG, address=office).status_code == 422
    assert failures() == 15
    for person, browser in zip(people, browsers, strict=True):
        response = sign_in(browser, person.email, TEST_PASSWORD, address=office)
        assert response.status_code == 302, f"{person.email} was refused ({response.status_code})"
        home = browser.get(response.headers["Location"], environ_base={"REMOTE_ADDR": office})
        assert home.status_code == 200
        assert "Support for Medium &amp; High Risk Victims" in home.text


# -- S10: a deactivated account takes the same work as any other ------------------------------------


def test_a_deactivated_account_is_verified_like_a_wrong_password(client, make_user, verifications):
    user = make_user("gone@example.org", active=False)
    stored = user.password_hash
    for password in (TEST_PASSWORD, WRONG):
        response = sign_in(client, "gone@example.org", password)
        assert response.status_code == 422
        assert "Enter a correct email address and password" in response.text
    assert verifications == [(stored, TEST_PASSWORD), (stored, WRONG)]


def test_every_kind_of_sign_in_hashes_exactly_once(client, two_orgs, make_user, verifications):
    sign_in(client, "nobody@example.org")
    sign_in(client, "a@davss.example")
    sign_in(client, "a@davss.example", TEST_PASSWORD)
    assert len(verifications) == 3


# -- S9: concurrent guesses at one account cannot overrun the limit ---------------------------------


@pytest.mark.parametrize("app_config", [{"MAX_CONCURRENT_HASHES": 25, "HASH_WAIT_SECONDS": 30}])
def test_twenty_simultaneous_guesses_are_limited_to_ten(app, two_orgs, verifications):
    """PostgreSQL let 11 through before (count, then insert, with no lock). SQLite's BEGIN IMMEDIATE already
    serialised it, so there this test checks the behaviour stays, and it is the PostgreSQL run that needed it."""
    barrier = threading.Barrier(20)
    results: list[auth_service.SignInResult] = []

    def guess(number: int) -> None:
        address = {"REMOTE_ADDR": f"192.0.2.{number + 1}"}
        with app.test_request_context("/sign-in", method="POST", environ_base=address):
            barrier.wait()
            results.append(auth_service.authenticate("a@davss.example", WRONG, client=address["REMOTE_ADDR"]))
            db.session.commit()
            db.session.remove()

    db.session.commit()
    threads = [threading.Thread(target=guess, args=(number,)) for number in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 20
    assert sum(1 for result in results if result.throttled) == 10
    assert len(verifications) == 10
    assert failures() == 10


# -- S14: no write lock on SQLite while a password is hashed ----------------------------------------


@pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite's one write lock; PostgreSQL locks rows, not the database")
def test_another_writer_can_take_the_lock_while_a_sign_in_is_hashing(app, client, two_orgs, database_url, monkeypatch):
    hashing, finish = threading.Event(), threading.Event()
    real = auth_service.verify_password

    def slow(stored: str, password: str) -> bool:
        hashing.set()
        assert finish.wait(timeout=30)
        return real(stored, password)

    monkeypatch.setattr(auth_service, "verify_password", slow)
    responses = []

    def signing_in() -> None:
        with app.app_context():
            responses.append(sign_in(client, "a@davss.example", TEST_PASSWORD))

    db.session.commit()
    thread = threading.Thread(target=signing_in)
    thread.start()
    try:
        assert hashing.wait(timeout=30)
        other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0.5, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" before: the sign-in held it while hashing
            other.execute("ROLLBACK")
        finally:
            other.close()
    finally:
        finish.set()
        thread.join(timeout=30)
    assert responses[0].status_code == 302


# -- settings an operator sets --------------------------------------------------------------------


def test_the_limits_and_proxy_hops_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    for key, value in {"SIGN_IN_MAX_PER_CLIENT": "50", "MAX_CONCURRENT_HASHES": "4", "PROXY_FIX_X_FOR": "1"}.items():
        monkeypatch.setenv(key, value)
    settings = from_environment(str(tmp_path))
    assert (settings["SIGN_IN_MAX_PER_CLIENT"], settings["MAX_CONCURRENT_HASHES"], settings["PROXY_FIX_X_FOR"]) == (
        50,
        4,
        1,
    )
    monkeypatch.setenv("MAX_CONCURRENT_HASHES", "0")
    with pytest.raises(RuntimeError, match="MAX_CONCURRENT_HASHES must be a whole number of at least 1"):
        from_environment(str(tmp_path))
