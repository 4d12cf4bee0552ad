"""The audit trail is indexed for one object's history in time order: the index is there whether the schema comes
from the models or the migrations, a return's history is read through it, and a project's pages read every
return's history in one query however many returns and events there are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.extensions import db
from portal.models import AuditEvent, MonitoringReturn, User
from portal.services import returns as returns_service
from tests.conftest import base_config
from tests.test_migrations import empty_database_url  # noqa: F401  (a fixture)

INDEX = "ix_audit_event_object_at"
START = datetime(2021, 7, 1, 9, tzinfo=UTC)


def audit_indexes() -> dict[str, list[str]]:
    return {index["name"]: index["column_names"] for index in sa.inspect(db.engine).get_indexes("audit_event")}


def test_the_models_schema_has_the_history_index_and_no_narrower_one(app):
    indexes = audit_indexes()
    assert indexes[INDEX] == ["object_type", "object_id", "at"]
    assert indexes["ix_audit_event_at"] == ["at"]
    # (object_type, object_id) alone is a prefix of the new index: kept, it would only cost every write.
    assert ["object_type", "object_id"] not in indexes.values()


def test_the_migrated_schema_has_the_same_indexes(empty_database_url):  # noqa: F811
    app = create_app(base_config(empty_database_url))
    with app.app_context():
        upgrade()
        try:
            indexes = audit_indexes()
            assert indexes[INDEX] == ["object_type", "object_id", "at"]
            assert indexes["ix_audit_event_at"] == ["at"]
            assert ["object_type", "object_id"] not in indexes.values()
        finally:
            db.session.remove()
            db.engine.dispose()


def add_events(count: int, *, object_ids: range, actor_id: int | None = None, action: str = "monitoring_return.saved"):
    """Many events spread over many objects (and another kind of object), written in one statement."""
    rows = [
        {
            "at": START + timedelta(minutes=number),
            "actor_id": actor_id,
            "action": action,
            "object_type": "monitoring_return" if number % 3 else "project",
            "object_id": object_ids[number % len(object_ids)],
            "summary": f"Event {number}",
            "details": {},
        }
        for number in range(count)
    ]
    db.session.execute(sa.insert(AuditEvent), rows)
    db.session.commit()


def query_plan(statement) -> str:
    sql = str(statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as connection:
        if db.engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
            return "\n".join(str(row[-1]) for row in rows)
        connection.exec_driver_sql("ANALYZE audit_event")
        return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}").all())


def test_a_returns_history_is_read_through_the_index(app):
    add_events(6000, object_ids=range(1, 2001))
    plan = query_plan(returns_service.history_statement([17]))
    assert INDEX in plan, plan
    # And the trail page filtered to one object, newest first.
    plan = query_plan(
        sa.select(AuditEvent)
        .where(AuditEvent.object_type == "project", AuditEvent.object_id == 3)
        .order_by(AuditEvent.at.desc())
    )
    assert INDEX in plan, plan


@pytest.fixture
def project_with_history(two_orgs, make_user):
    """The DAVSS project with Q1 reported; `grow()` reports the other quarters, each submitted, sent back,
    submitted again and approved by people of their own."""
    project = two_orgs["davss_project"]
    returns = [MonitoringReturn(project=project, quarter=1, status="approved", spend_pence=100)]
    db.session.add_all(returns)
    db.session.commit()

    def review(mreturn: MonitoringReturn, rounds: int, first: int = 0) -> None:
        for number in range(first, first + rounds):
            actor = make_user(f"officer{mreturn.quarter}-{number}@council.example")
            for minutes, action in enumerate(returns_service.REVIEW_ACTIONS[:4]):
                db.session.add(
                    AuditEvent(
                        at=START + timedelta(days=mreturn.quarter * 90 + number, minutes=minutes),
                        actor_id=actor.id,
                        action=action,
                        object_type="monitoring_return",
                        object_id=mreturn.id,
                        summary=f"Q{mreturn.quarter} {action}",
                        details={"comment": f"Comment {mreturn.quarter}-{number}"},
                    )
                )
        db.session.commit()

    review(returns[0], 1)

    def grow() -> None:
        for quarter in (2, 3, 4):
            mreturn = MonitoringReturn(project=project, quarter=quarter, status="approved", spend_pence=100)
            db.session.add(mreturn)
            db.session.commit()
            review(mreturn, 3)
        review(returns[0], 3, first=1)

    return {"project": project, "grow": grow}


def before_and_after_growing(client, count_queries, project_with_history, url: str) -> tuple[list[int], list[str]]:
    """The page's query count and text with one return reviewed once, then with four reviewed up to four times."""
    counts, pages = [], []
    for grow in (lambda: None, project_with_history["grow"]):
        grow()
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(counter.count)
        pages.append(response.text)
    return counts, pages


def test_the_project_page_reads_every_returns_history_in_one_query(
    client, two_orgs, login, count_queries, project_with_history
):
    login(client, two_orgs["csu"])
    counts, pages = before_and_after_growing(
        client, count_queries, project_with_history, f"/csu/projects/{project_with_history['project'].id}"
    )
    # One return with one round of review, then four returns with up to four rounds each: the same queries.
    assert counts[0] == counts[1], counts
    assert "Comment 1-0" in pages[0] and "Comment 4-2" not in pages[0]
    for quarter in (1, 2, 3, 4):
        assert f"Comment {quarter}-2" in pages[1]
    assert "Comment 1-3" in pages[1]


def test_the_partner_return_overview_reads_its_history_in_one_query(
    client, two_orgs, login, count_queries, project_with_history
):
    login(client, two_orgs["partner_a"])
    counts, pages = before_and_after_growing(
        client, count_queries, project_with_history, f"/partner/projects/{project_with_history['project'].id}/q1/"
    )
    assert counts[0] == counts[1], counts
    assert "Comment 1-0" in pages[0]
    assert "Comment 1-3" in pages[1] and "officer1-3" in pages[1] and "Comment 2-0" not in pages[1]


def test_the_histories_of_several_returns_come_back_by_return_newest_first(app, two_orgs, project_with_history):
    project_with_history["grow"]()
    returns = list(
        db.session.scalars(
            sa.select(MonitoringReturn).where(MonitoringReturn.project_id == two_orgs["davss_project"].id)
        )
    )
    histories = returns_service.review_histories(returns)
    assert sorted(histories) == sorted(mreturn.id for mreturn in returns)
    for mreturn in returns:
        events = histories[mreturn.id]
        assert events and all(event.object_id == mreturn.id for event in events)
        assert [event.at for event in events] == sorted((event.at for event in events), reverse=True)
        assert all(isinstance(event.actor, User) for event in events)
    assert returns_service.review_histories([None]) == {}
