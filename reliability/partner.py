"""What a partner does in a browser: sign in through the form, fill in a quarter's return (an htmx autosave on
the narrative page), open Check your answers and submit. Each step checks the status a browser would see.

The answers are unique to each partner (`answers(n)`) so the database check can tell a half-written return.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pyotp

from .client import OOB_VERSION, Browser, ConnectionLost, Response, form_with

RETRIES = 8  # a browser's user pressing the button again after a dropped connection


class StepFailed(Exception):
    """A step got an answer a browser's user would see as a failure."""


def expect(response: Response, statuses: tuple[int, ...], what: str) -> Response:
    if response.status not in statuses:
        raise StepFailed(f"{what}: HTTP {response.status}")
    return response


def answers(n: int) -> dict[str, object]:
    """Partner n's answers, and what the database should then hold."""
    return {
        "outputs": (10 + n, 2 + n % 7),
        "spend": f"{1000 + n}.00",
        "spend_pence": (1000 + n) * 100,
        "spend_explanation": "spent on sessions and staff time as planned",
        "progress": f"sessions ran as planned this quarter, harness partner number {n} reporting",
        "draft_progress": "sessions ran as planned",
        "case_study": "a young person joined the weekly sessions and now helps to run them",
        "challenges": "recruiting volunteers for the evening sessions",
        "partner_rag_reason": "on track against the plan",
    }


def with_retries(send: Callable[[], Response], retried: list[int] | None = None) -> Response:
    """Send again, unchanged, when the connection drops without an answer (a killed worker), as a person
    pressing the button again would; the same form means the same submission key."""
    for attempt in range(RETRIES):
        try:
            return send()
        except ConnectionLost:
            if retried is not None:
                retried.append(1)
            time.sleep(0.3 * (attempt + 1))
    raise StepFailed("no answer after retries")


def sign_in(browser: Browser, email: str, password: str) -> Response:
    page = expect(browser.get("/sign-in"), (200,), "sign-in page")
    data = dict(form_with(page.body, "email")["fields"])
    data.update(email=email, password=password)
    response = browser.post("/sign-in", data)
    return response


def sign_in_ok(browser: Browser, email: str, password: str) -> None:
    response = expect(sign_in(browser, email, password), (302, 303), "sign in")
    expect(browser.get(response.location or "/partner/"), (200,), "home after sign-in")


def sign_in_staff(browser: Browser, email: str, password: str, secret: str) -> str:
    """A CSU officer or finance user: the password, then the authenticator's code for now. Their home page."""
    response = expect(sign_in(browser, email, password), (302, 303), "staff sign in")
    if not response.location.endswith("/sign-in/code"):
        raise StepFailed(f"staff sign in went to {response.location}, not the code page")
    page = expect(browser.get(response.location), (200,), "code page")
    data = dict(form_with(page.body, "code")["fields"])
    data["code"] = pyotp.TOTP(secret).now()
    response = expect(browser.post(response.location, data), (302, 303), "authenticator code")
    for _hop in range(3):  # the portal's front page sends each role on to its own home
        path = response.location
        response = browser.get(path)
        if response.status == 200:
            return path
        expect(response, (302, 303), f"staff home {path}")
    raise StepFailed("staff home: too many redirects")


def return_path(project_id: int, quarter: int) -> str:
    return f"/partner/projects/{project_id}/q{quarter}"


def _section(
    browser: Browser, path: str, values: dict[str, str], *, autosave: dict[str, str] | None = None, retried=None
) -> None:
    page = expect(with_retries(lambda: browser.get(path), retried), (200,), f"GET {path}")
    form = form_with(page.body, "version")
    data = dict(form["fields"])
    for name, value in values.items():
        data[name] = value
    if autosave is not None:
        draft = {**data, **autosave}
        headers = {"HX-Request": "true", "HX-Current-URL": path, "X-CSRFToken": data.get("csrf_token", "")}
        saved = expect(
            with_retries(lambda: browser.post(path, draft, headers=headers), retried), (200,), f"autosave {path}"
        )
        version = OOB_VERSION.search(saved.body)
        if version is None:
            raise StepFailed(f"autosave {path}: no new version in the answer")
        data["version"] = version.group(1)
    data["save_continue"] = "Save and continue"
    expect(with_retries(lambda: browser.post(path, data), retried), (302, 303), f"save {path}")


def fill_return(browser: Browser, project_id: int, quarter: int, n: int, retried=None) -> None:
    """Outputs, spend, and the narrative with an htmx autosave first, each by Save and continue."""
    base = return_path(project_id, quarter)
    mine = answers(n)
    page = expect(with_retries(lambda: browser.get(f"{base}/outputs"), retried), (200,), "outputs page")
    fields = form_with(page.body, "version")["fields"]
    measures = sorted(
        (name for name in fields if name[:1] == "m" and name[1:].isdigit()), key=lambda name: int(name[1:])
    )
    counts: tuple[int, int] = mine["outputs"]  # type: ignore[assignment]
    outputs = {name: str(value) for name, value in zip(measures, counts, strict=False)}
    _section(browser, f"{base}/outputs", outputs, retried=retried)
    _section(
        browser,
        f"{base}/spend",
        {"spend": str(mine["spend"]), "spend_explanation": str(mine["spend_explanation"])},
        retried=retried,
    )
    narrative = {name: str(mine[name]) for name in ("progress", "case_study", "challenges", "partner_rag_reason")}
    narrative["partner_rag"] = "green"
    _section(
        browser, f"{base}/narrative", narrative, autosave={"progress": str(mine["draft_progress"])}, retried=retried
    )


def check_form(browser: Browser, project_id: int, quarter: int, retried=None) -> dict[str, str]:
    """Check your answers: the form a browser would post to submit (its own submission key)."""
    path = f"{return_path(project_id, quarter)}/check"
    page = expect(with_retries(lambda: browser.get(path), retried), (200,), "check your answers")
    data = dict(form_with(page.body, "submission_key")["fields"])
    data["submit"] = "Submit return"
    return data


def submit(
    browser: Browser, project_id: int, quarter: int, data: dict[str, str], retried=None, on_sent=None
) -> Response:
    path = f"{return_path(project_id, quarter)}/check"
    response = with_retries(lambda: browser.post(path, data, on_sent=on_sent), retried)
    expect(response, (302, 303), "submit")
    if "/submitted/" not in response.location:
        raise StepFailed(f"submit went to {response.location}")
    return response
