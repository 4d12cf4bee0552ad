"""The return's rules called directly, without a request: what is required, and stale saves."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm.attributes import set_committed_value

from portal.extensions import db
from portal.services import returns as service

# -- what is required ---------------------------------------------------------------------------


def _needed(project, answers, section=None, quarter=1):
    return [
        (item.section, item.name, item.message, item.summary)
        for item in service.unanswered(project, quarter, answers, section)
    ]


def test_a_blank_return_needs_every_required_answer_in_page_order_with_one_wording_each(two_orgs):
    project = two_orgs["davss_project"]
    m = f"m{project.measures[0].id}"
    assert _needed(project, {}) == [
        ("outputs", m, "Enter referrals", "Enter referrals"),
        ("spend", "spend", "Enter the spend in the quarter, like 2500.00", "Enter the spend in the quarter"),
        ("narrative", "progress", "Enter the progress this quarter", "Enter the progress this quarter"),
        ("narrative", "partner_rag", "Select Green, Amber or Red", "Select a rating: Green, Amber or Red"),
        ("narrative", "partner_rag_reason", "Enter the reason for your rating", "Enter the reason for your rating"),
    ]
    # The list on the overview and on Check your answers is the same table's summary wording.
    assert service.missing_answers(project, None) == [
        (section, summary) for section, _, _, summary in _needed(project, {})
    ]


def test_one_sections_answers_are_checked_alone(two_orgs):
    project = two_orgs["davss_project"]
    assert [name for _, name, _, _ in _needed(project, {}, "narrative")] == [
        "progress",
        "partner_rag",
        "partner_rag_reason",
    ]
    answers = {"progress": "Took 64 referrals.", "partner_rag": "green", "partner_rag_reason": "", "case_study": None}
    assert [name for _, name, _, _ in _needed(project, answers, "narrative")] == ["partner_rag_reason"]
    assert _needed(project, {f"m{project.measures[0].id}": Decimal(0)}, "outputs") == []  # nought is an answer


@pytest.mark.parametrize(
    ("spend_pence", "explanation", "needed"),
    [
        (250_000, None, []),  # a quarter of the £10,000 award: on profile
        (0, "Nothing was spent yet.", []),
        (0, "", ["Spend to date would be £0.00, more than 20% away from the expected £2,500.00"]),
        (1_000_001, None, ["Spend to date would be £10,000.01, more than the award of £10,000.00: explain why"]),
    ],
)
def test_the_spend_needs_an_explanation_only_when_far_from_the_profile(two_orgs, spend_pence, explanation, needed):
    project = two_orgs["davss_project"]
    items = service.unanswered(project, 1, {"spend": spend_pence, "spend_explanation": explanation}, "spend")
    assert len(items) == len(needed)
    for item, start in zip(items, needed, strict=True):
        assert item.name == "spend_explanation" and item.message.startswith(start)
        assert item.summary == "Explain the spend to date"


def test_a_saved_return_is_checked_by_the_same_table(two_orgs):
    project, partner = two_orgs["davss_project"], two_orgs["partner_a"]
    mreturn = service.save_spend(project, 1, 0, None, version=0, by=partner)
    mreturn = service.save_narrative(
        project, 1, {"progress": "Took 64 referrals."}, version=mreturn.version, by=partner
    )
    db.session.commit()
    assert service.missing_answers(project, mreturn) == [
        ("outputs", "Enter referrals"),
        ("spend", "Explain the spend to date"),
        ("narrative", "Select a rating: Green, Amber or Red"),
        ("narrative", "Enter the reason for your rating"),
    ]


# -- stale saves --------------------------------------------------------------------------------

NARRATIVE = {"progress": "Took 64 referrals.", "partner_rag": "green", "partner_rag_reason": "On profile."}


@pytest.fixture
def colleagues_save(two_orgs, make_user):
    """The partner's first save, seen at its version; then a colleague's save that rewrote the progress."""
    project, partner = two_orgs["davss_project"], two_orgs["partner_a"]
    colleague = make_user("colleague@davss.example", ("partner",), two_orgs["davss"])
    mreturn = service.save_narrative(project, 1, NARRATIVE, version=0, by=partner)
    db.session.commit()
    seen = mreturn.version
    service.save_narrative(project, 1, {**NARRATIVE, "progress": "The colleague's."}, version=seen, by=colleague)
    db.session.commit()
    assert mreturn.version > seen
    return project, partner, mreturn, seen


def test_a_stale_save_raises_a_conflict_naming_the_saved_answers_that_differ(colleagues_save):
    project, partner, mreturn, seen = colleagues_save
    mine = {**NARRATIVE, "progress": "Mine.", "partner_rag": "red"}
    with pytest.raises(service.ReturnConflict) as raised:
        service.save_narrative(project, 1, mine, version=seen, by=partner)
    conflict = raised.value
    assert conflict.differences == ["Progress this quarter", "Rating"]
    assert conflict.current is mreturn and conflict.current.version > seen
    assert "colleague saved this return" in str(conflict)
    assert "Saved answers that differ from yours: Progress this quarter; Rating." in str(conflict)
    db.session.rollback()
    assert service.find_return(project, 1).progress == "The colleague's."


def test_a_stale_outputs_or_spend_save_names_the_saved_figure(two_orgs):
    project, partner = two_orgs["davss_project"], two_orgs["partner_a"]
    measure = project.measures[0]
    seen = service.save_outputs(project, 1, {measure.id: Decimal(6)}, version=0, by=partner).version
    service.save_spend(project, 1, 250_000, None, version=seen, by=partner)
    db.session.commit()
    with pytest.raises(service.ReturnConflict) as raised:
        service.save_outputs(project, 1, {measure.id: Decimal(9)}, version=seen, by=partner)
    assert raised.value.differences == ["Referrals (saved: 6)"]
    db.session.rollback()
    with pytest.raises(service.ReturnConflict) as raised:
        service.save_spend(project, 1, 250_000, "Rent.", version=seen, by=partner)
    assert raised.value.differences == ["Explanation of spend"]  # the same spend is no difference


def test_a_save_that_loses_the_race_to_the_database_names_what_won(colleagues_save):
    """Read before a colleague's save was committed, written after it: the flush is refused."""
    project, partner, mreturn, seen = colleagues_save
    saved, _ = mreturn.version, partner.id  # loaded now, so reading them cannot flush early
    set_committed_value(mreturn, "version", seen)  # as if read before the colleague's save
    with pytest.raises(service.ReturnConflict) as raised:
        service.save_narrative(project, 1, {**NARRATIVE, "progress": "Mine."}, version=seen, by=partner)
    assert raised.value.differences == ["Progress this quarter"]
    assert raised.value.current.version == saved
    assert service.find_return(project, 1).progress == "The colleague's."


def test_a_stale_submit_raises_a_conflict_carrying_the_return_as_saved_now(colleagues_save):
    project, partner, mreturn, seen = colleagues_save
    with pytest.raises(service.ReturnConflict) as raised:
        service.submit_return(project, 1, version=seen, submission_key="k" * 32, by=partner)
    assert raised.value.current is mreturn and raised.value.current.progress == "The colleague's."
    assert str(raised.value) == (
        "This return was changed after you opened this page. Check the answers below, then submit again."
    )


# -- the CSU's decisions ------------------------------------------------------------------------


def test_each_decision_moves_the_return_from_the_states_it_allows(two_orgs):
    project, partner, csu = two_orgs["davss_project"], two_orgs["partner_a"], two_orgs["csu"]
    mreturn = service.save_outputs(project, 1, {project.measures[0].id: Decimal(6)}, version=0, by=partner)
    db.session.commit()
    with pytest.raises(service.ReturnError, match="This return is draft: it cannot be changed that way"):
        service.approve_return(mreturn, version=mreturn.version, by=csu)
    db.session.rollback()
    mreturn = service.find_return(project, 1)
    mreturn.status = "submitted"
    db.session.commit()

    mreturn = service.approve_return(mreturn, version=mreturn.version, by=csu)
    assert (mreturn.status, mreturn.approved_by_id) == ("approved", csu.id) and mreturn.approved_at is not None
    mreturn = service.reopen_return(mreturn, version=mreturn.version, reason="A figure was wrong.", by=csu)
    assert (mreturn.status, mreturn.review_comment) == ("changes_requested", "A figure was wrong.")
    assert mreturn.approved_at is None and mreturn.approved_by_id is None
    with pytest.raises(service.ReturnError, match="cannot be changed that way"):
        service.request_changes(mreturn, version=mreturn.version, comment="Again", by=csu)
