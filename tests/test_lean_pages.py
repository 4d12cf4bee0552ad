"""The pages about one project or one return cost the same few SQL queries however big the year and the project
(issue 15): each is counted on a small data set, then again after the year gains many projects and the project
many measures, and the two counts must be equal and at most MOST_QUERIES. The return and its project are read once
a request, and GOV.UK widgets render without re-running the request's context processors."""

from __future__ import annotations

import re
import secrets
from datetime import date
from decimal import Decimal

import pytest
from flask import render_template
from govuk_frontend_wtf.gov_form_base import GovFormBase
from markupsafe import Markup

from portal.extensions import db
from portal.models import (
    AwardVariation,
    CsuRating,
    MeasureValue,
    MonitoringReturn,
    OutputMeasure,
    Payment,
    PaymentInstalment,
)
from portal.models.vocabulary import APPROVED
from portal.quantities import plain_quantity
from portal.services import returns as service
from tests.test_returns_safety import HTMX, the_return

MOST_QUERIES = 12
EDITOR = "0123456789abcdef"
SMALL_MEASURES, LARGE_MEASURES = 3, 12
MORE_PROJECTS = 30


def _measures(count: int, start: int = 0) -> list[dict]:
    return [{"name": f"Measure {number}", "annual_target": 40} for number in range(start, start + count)]


def _report(project, quarter: int, partner, csu, outcome: str | None) -> MonitoringReturn:
    """A return saved section by section, submitted, and then approved or sent back, through the services: with its
    revision and its audit events, as a real quarter has them."""
    figures = {measure.id: Decimal(quarter * 3) for measure in project.measures}
    saved = service.save_outputs(project, quarter, figures, version=0, by=partner)
    saved = service.save_spend(project, quarter, 200_000, "On profile.", version=saved.version, by=partner)
    narrative = {"progress": "Groups ran weekly.", "case_study": "A family was helped.", "challenges": "Volunteers."}
    narrative |= {"partner_rag": "green", "partner_rag_reason": "On track."}
    saved = service.save_narrative(project, quarter, narrative, version=saved.version, by=partner)
    db.session.commit()
    key = secrets.token_hex(16)
    mreturn = service.submit_return(project, quarter, version=saved.version, submission_key=key, by=partner)
    mreturn = mreturn.monitoring_return
    db.session.commit()
    if outcome == "approve":
        service.approve_return(mreturn, version=mreturn.version, by=csu)
    elif outcome == "send back":
        service.request_changes(mreturn, version=mreturn.version, comment="Please add the case study.", by=csu)
    db.session.commit()
    return mreturn


@pytest.fixture
def world(two_orgs, make_project):
    """The partner's project with SMALL_MEASURES measures: Q1 approved, Q2 submitted, Q3 a draft (sent back and
    saved again), payments, a variation, an instalment and a CSU rating; the year has the two projects of
    `two_orgs` besides."""
    partner, csu, finance = two_orgs["partner_a"], two_orgs["csu"], two_orgs["finance"]
    project = make_project(
        two_orgs["davss"], two_orgs["stream"], "Measured project", measures=_measures(SMALL_MEASURES)
    )
    _report(project, 1, partner, csu, "approve")
    q2 = _report(project, 2, partner, csu, None)
    _report(project, 3, partner, csu, "send back")
    db.session.add_all(
        [
            Payment(project=project, amount_pence=300_000, paid_on=date(2021, 5, 1), recorded_by=finance),
            Payment(project=project, amount_pence=200_000, paid_on=date(2021, 8, 1), recorded_by=finance),
            AwardVariation(project=project, from_pence=1_000_000, to_pence=1_100_000, reason="More", varied_by=finance),
            PaymentInstalment(project=project, number=1, amount_pence=500_000, due_on=date(2021, 6, 1)),
            CsuRating(project=project, quarter=1, rag="green", reason="Fine", set_by=csu),
        ]
    )
    db.session.commit()
    return {"project": project, "q2": q2, "make_project": make_project, **two_orgs}


def _grow(world) -> None:
    """Many more projects in the year (the partner's own and others'), each with reported quarters, and
    LARGE_MEASURES measures on the measured project, each with a figure in its returns."""
    project = world["project"]
    added = [
        OutputMeasure(project=project, position=SMALL_MEASURES + number, unit="people", **spec)
        for number, spec in enumerate(_measures(LARGE_MEASURES - SMALL_MEASURES, SMALL_MEASURES))
    ]
    db.session.add_all(added)
    db.session.flush()
    for mreturn in db.session.query(MonitoringReturn).filter_by(project_id=project.id):
        mreturn.values.extend(MeasureValue(measure=measure, value=Decimal(2)) for measure in added)
    stream = world["stream"]
    for number in range(MORE_PROJECTS):
        organisation = world["davss"] if number % 3 == 0 else world["kenward"]
        other = world["make_project"](organisation, stream, f"Project {number}", measures=_measures(LARGE_MEASURES))
        for quarter in (1, 2):
            values = [MeasureValue(measure=measure, value=Decimal(5)) for measure in other.measures]
            db.session.add(MonitoringReturn(project=other, quarter=quarter, status=APPROVED, values=values))
        db.session.add(Payment(project=other, amount_pence=1000, paid_on=date(2021, 5, 1)))
    db.session.commit()
    db.session.expire_all()


def _pages(world) -> dict[str, tuple[str, str]]:
    """Each page: whose session asks for it, and its address."""
    project = world["project"]
    own = f"/partner/projects/{project.id}"
    return {
        "partner home": ("partner_a", "/partner/2021-22/"),
        "partner project": ("partner_a", own),
        "partner return overview": ("partner_a", f"{own}/q1/"),
        "partner outputs": ("partner_a", f"{own}/q3/outputs"),
        "partner spend": ("partner_a", f"{own}/q3/spend"),
        "partner narrative": ("partner_a", f"{own}/q3/narrative"),
        "partner check answers": ("partner_a", f"{own}/q3/check"),
        "CSU project": ("csu", f"/csu/projects/{project.id}"),
        "CSU return review": ("csu", f"/csu/returns/{world['q2'].id}"),
        "audit trail": ("csu", "/audit/"),
    }


def _count_page(app, login, count_queries, world, name: str) -> int:
    role, path = _pages(world)[name]
    client = app.test_client()
    login(client, world[role])
    assert client.get(path).status_code == 200  # warm: templates compiled
    with count_queries() as counter:
        response = client.get(path)
    assert response.status_code == 200, response.text
    return counter.count


@pytest.mark.parametrize(
    "name",
    [
        "partner home",
        "partner project",
        "partner return overview",
        "partner outputs",
        "partner spend",
        "partner narrative",
        "partner check answers",
        "CSU project",
        "CSU return review",
        "audit trail",
    ],
)
def test_a_pages_queries_do_not_grow_with_the_projects_or_the_measures(app, login, count_queries, world, name):
    small = _count_page(app, login, count_queries, world, name)
    _grow(world)
    large = _count_page(app, login, count_queries, world, name)
    assert (small, large) == (small, small), f"{name}: {small} queries, then {large} with more projects and measures"
    assert small <= MOST_QUERIES, f"{name}: {small} queries"


def _autosave(app, login, count_queries, world, figure: str) -> int:
    """The outputs page's htmx autosave with every figure as the page holds it and one changed: its queries."""
    project = world["project"]
    db.session.expire_all()
    mreturn = the_return(project, 3)
    figures = {f"m{value.measure_id}": plain_quantity(value.value) for value in mreturn.values}
    figures[f"m{project.measures[0].id}"] = figure
    data = {"version": str(mreturn.version), "editor": EDITOR, "autosave": "1", **figures}
    client = app.test_client()
    login(client, world["partner_a"])
    with count_queries() as counter:
        response = client.post(f"/partner/projects/{project.id}/q3/outputs", data=data, headers=HTMX)
    assert response.status_code == 200 and "Draft saved at" in response.text, response.text
    db.session.expire_all()
    assert the_return(project, 3).value_of(project.measures[0].id) == Decimal(figure)  # it was saved
    return counter.count


def test_an_autosave_costs_the_same_few_queries_with_more_projects_and_measures(app, login, count_queries, world):
    _autosave(app, login, count_queries, world, "10")  # the first of the window writes its audit event
    small = _autosave(app, login, count_queries, world, "11")
    _grow(world)
    _autosave(app, login, count_queries, world, "12")
    large = _autosave(app, login, count_queries, world, "13")
    assert small == large, (small, large)
    # The signed-in user with their roles, the project, the return and its figures, the measures, one UPDATE of
    # the return (version, state and ownership in its WHERE), one of the figure, the audit window: nothing else.
    assert small <= MOST_QUERIES - 2, small


# -- widgets -------------------------------------------------------------------------------------------------


# Made anew for each response: the Content Security Policy's nonce, the CSRF token (timed to the second), the
# form's editor token and submission key.
FRESH = re.compile(
    rb'nonce="[^"]*"|X-CSRFToken&#34;: &#34;[^&]*&#34;|name="csrf_token" value="[^"]*"'
    rb'|name="(?:editor|submission_key)" type="hidden" value="[^"]*"'
)


def _html(response) -> bytes:
    """The page as sent, less what is made anew for each response."""
    return FRESH.sub(b"fresh", response.get_data())


def _library_render(self, params):
    """How govuk-frontend-wtf renders a widget itself (GovFormBase.render): through flask.render_template."""
    return Markup(render_template(self.template, params=params))  # noqa: S704 (the library's own code)


@pytest.fixture
def processor_runs(app):
    """How many times the request's context processors ran."""
    runs = []
    app.template_context_processors[None].append(lambda: runs.append(1) or {})
    yield runs
    app.template_context_processors[None].pop()


def test_a_form_page_runs_the_context_processors_once_however_many_fields(app, login, world, processor_runs):
    _grow(world)  # LARGE_MEASURES fields on the outputs page
    client = app.test_client()
    login(client, world["partner_a"])
    processor_runs.clear()
    page = client.get(f"/partner/projects/{world['project'].id}/q3/outputs").text
    assert page.count('class="govuk-input') >= LARGE_MEASURES
    assert len(processor_runs) == 1


@pytest.mark.parametrize(
    "name",
    ["partner outputs", "partner spend", "partner narrative", "partner check answers", "CSU project", "audit trail"],
)
def test_widgets_render_the_same_html_as_the_library_would(app, login, world, monkeypatch, name):
    """Every kind of widget these pages hold (inputs, text areas, radios, selects, dates, buttons), byte for byte."""
    role, path = _pages(world)[name]
    client = app.test_client()
    login(client, world[role])
    lean = _html(client.get(path))
    monkeypatch.setattr(GovFormBase, "render", _library_render)
    assert _html(client.get(path)) == lean


def test_a_form_page_with_errors_shows_the_same_widgets_as_the_library_would(app, login, world, monkeypatch):
    project = world["project"]
    mreturn = the_return(project, 3)
    data = {"version": str(mreturn.version), f"m{project.measures[0].id}": "lots", "save_later": "Save"}
    client = app.test_client()
    login(client, world["partner_a"])
    lean = client.post(f"/partner/projects/{project.id}/q3/outputs", data=data)
    assert lean.status_code == 422
    monkeypatch.setattr(GovFormBase, "render", _library_render)
    assert _html(client.post(f"/partner/projects/{project.id}/q3/outputs", data=data)) == _html(lean)
