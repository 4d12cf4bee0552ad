"""The benchmark's data set, written with SQLAlchemy Core bulk inserts into the app's own tables.

    BENCH_SCALE=modest .venv/bin/python -m bench.build [--database-url URL]

Scales (`SCALES`): national is 3,000 projects a year for 10 years, three projects per organisation (1,000
organisations, each with one partner account), four measures a project, quarterly returns with a value per measure,
narratives of real length, revisions (one return in ten sent back once and submitted again), CSU ratings,
extensions, payments with the odd reversal, instalments, award variations, and the audit events all of those leave
behind (about 600,000). modest is 300 projects a year for 3 years; tiny is small enough for a test.

The years end with the current financial year: earlier years are complete (every return approved); in the current
year the quarters that have ended are reported (some still awaiting review, a few sent back), the quarter under way
has drafts, and later quarters have nothing. The schema is the models' (`db.create_all`, with the append-only
triggers); no ORM object and no request is made, so building is quick. Ids are given here and, on PostgreSQL, the
sequences are moved past them afterwards, so the app's own inserts carry on from there.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from portal.calendar import quarters_of, start_year_of, uk_today, year_label
from portal.models.vocabulary import AMBER, APPROVED, CHANGES_REQUESTED, DRAFT, GREEN, RED, SUBMITTED

PROJECTS_PER_ORGANISATION = 3
MEASURES_PER_PROJECT = 4
EXAMPLES = {1: DRAFT, 2: SUBMITTED}  # project number in its year -> the state of its ended quarters' returns
MEASURE_KINDS = (
    ("People supported", "people"),
    ("Sessions delivered", "sessions"),
    ("Volunteer hours", "hours"),
    ("Referrals received", "referrals"),
)
BATCH = 5_000
# The scratch accounts' password: a scratch database's, never a real one.


@dataclass(frozen=True)
class Scale:
    name: str
    projects_per_year: int
    years: int
    measures_per_project: int = MEASURES_PER_PROJECT


SCALES = {
    "national": Scale("national", 3_000, 10),
    "modest": Scale("modest", 300, 3),
    "tiny": Scale("tiny", 12, 2),
}


@dataclass
class BenchData:
    """What the timing needs to know about the data set: JSON, so the HTTP stage can read it too."""

    scale: str
    url: str
    dialect: str
    current_year: str
    busy_year: str  # the latest complete year: whole-year pages are timed on it
    open_quarter: int
    overview_quarter: int  # a reported quarter with a send-back in its history (or the open one)
    password: str
    emails: dict[str, str]  # role -> address of the one CSU, finance and first partner account
    tokens: dict[str, str]  # role -> session token (what the session cookie holds)
    partner_project: int  # the first partner's first project in the current year
    csu_project: int  # the same organisation's first project in the busy year
    review_return: int  # a return of the busy year with two revisions
    autosavers: list[dict] = field(default_factory=list)  # partners with a draft in the open quarter
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BenchData:
        return cls(**json.loads(text))


# -- words of real length -------------------------------------------------------------------------

SENTENCE_WORDS = (
    "the project worked with young people referred by schools and the police across the district this quarter "
    "sessions were delivered in community centres youth clubs and online mentors met each participant weekly "
    "volunteers were trained in safeguarding and trauma informed practice referrals came from social care "
    "housing officers and the community safety unit several families were supported through crisis and the team "
    "noticed fewer reports of antisocial behaviour near the town centre partners shared information at the "
    "monthly meeting and the caseworker followed up every missed appointment outcomes were recorded on the case "
    "management system and checked by the manager before this return was prepared"
)
WORDS = tuple(SENTENCE_WORDS.split(" "))
LENGTHS = {  # characters: (shortest, longest)
    "progress": (900, 2_600),
    "case_study": (700, 2_200),
    "challenges": (250, 1_000),
    "partner_rag_reason": (120, 450),
    "spend_explanation": (150, 500),
    "description": (200, 600),
    "reason": (80, 300),
}


def _text(rng: random.Random, length: int) -> str:
    sentences, size = [], 0
    while size < length:
        words = rng.choices(WORDS, k=rng.randint(8, 22))
        sentence = " ".join(words).capitalize() + "."
        sentences.append(sentence)
        size += len(sentence) + 1
    return " ".join(sentences)


def _pools(rng: random.Random) -> dict[str, list[str]]:
    """A few dozen texts of each kind: rows draw from them (the lengths are what matter to the pages)."""
    return {kind: [_text(rng, rng.randint(*span)) for _ in range(48)] for kind, span in LENGTHS.items()}


# -- the rows ---------------------------------------------------------------------------------------


class Rows:
    """Rows per table with ids given here; written table by table in foreign-key order."""

    ORDER = (
        "organisation",
        "user",
        "user_role",
        "financial_year",
        "funding_stream",
        "priority",
        "project",
        "output_measure",
        "monitoring_return",
        "measure_value",
        "return_revision",
        "csu_rating",
        "return_arrangement",
        "payment",
        "payment_instalment",
        "award_variation",
        "audit_event",
    )

    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.next_id: dict[str, int] = defaultdict(lambda: 1)
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, table: str, **values: Any) -> int:
        row_id = self.next_id[table]
        self.next_id[table] += 1
        self.rows[table].append({"id": row_id, **values})
        self.counts[table] += 1
        return row_id

    def write(self, connection: sa.Connection, metadata: sa.MetaData) -> None:
        for name in self.ORDER:
            rows = self.rows.pop(name, [])
            for start in range(0, len(rows), BATCH):
                connection.execute(metadata.tables[name].insert(), rows[start : start + BATCH])


def _at(day: date, rng: random.Random) -> datetime:
    """A working-hours moment on a day, in UTC."""
    return datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59)), tzinfo=UTC)


def _audit(rows: Rows, action: str, kind: str, object_id: int, summary: str, at: datetime, **extra: Any) -> None:
    rows.add(
        "audit_event",
        at=at,
        actor_id=extra.pop("actor_id", None),
        action=action,
        object_type=kind,
        object_id=object_id,
        organisation_id=extra.pop("organisation_id", None),
        summary=summary[:500],
        details=extra.pop("details", {}),
    )


STAFF = ("csu", "finance", "admin")


@dataclass
class People:
    csu: int
    finance: int
    admin: int
    partners: list[int]  # one per organisation, by its index


def _organisations(rows: Rows, count: int, password_hash: str) -> tuple[list[int], People]:
    now = datetime.now(UTC)
    organisations, partners = [], []
    for number in range(count):
        organisation = rows.add(
            "organisation",
            short_name=f"ORG{number:04d}",
            name=f"Organisation {number:04d} Community Trust",
            charity_number=f"{1_000_000 + number}",
            company_number=None,
            contact_email=f"office{number}@org.bench.test",
            contact_phone="01732 000000",
            retired_at=None,
        )
        organisations.append(organisation)
        partners.append(_user(rows, f"partner{number}@bench.test", "partner", organisation, password_hash, now))
    csu, finance, admin = (_user(rows, f"{role}@bench.test", role, None, password_hash, now) for role in STAFF)
    return organisations, People(csu=csu, finance=finance, admin=admin, partners=partners)


def _user(rows: Rows, email: str, role: str, organisation: int | None, password_hash: str, now: datetime) -> int:
    user = rows.add(
        "user",
        email=email,
        name=email.split("@")[0].capitalize(),
        password_hash=password_hash,
        organisation_id=organisation,
        session_token=secrets.token_urlsafe(32),
        active=True,
        created_at=now,
        last_sign_in_at=None,
    )
    rows.add("user_role", user_id=user, role=role)
    return user


@dataclass
class YearPlan:
    start_year: int
    today: date
    complete: bool  # every quarter ended and every return approved

    def quarter_state(self, quarter: int) -> str:
        """ended, open (under way) or future."""
        period = quarters_of(self.start_year, 14)[quarter - 1]
        if self.complete or period.end < self.today:
            return "ended"
        return "open" if period.start <= self.today else "future"


class YearBuilder:
    """One financial year's rows: its streams, priorities, projects, returns, ledger and audit events."""

    def __init__(
        self,
        rows: Rows,
        rng: random.Random,
        pools: dict,
        people: People,
        organisations: list[int],
        measures_per_project: int = MEASURES_PER_PROJECT,
    ):
        self.rows, self.rng, self.pools, self.people, self.organisations = rows, rng, pools, people, organisations
        self.measures_per_project = measures_per_project
        # The returns' states come from a sequence of their own (`_project` begins it afresh for each project
        # and quarter, as it does `rng`), so a year's first projects are the same whatever the number of projects
        # or measures: the query-count test compares the same pages across sizes.
        self.states = random.Random()
        self.first_project: dict[int, int] = {}  # organisation index -> its first project this year
        self.firsts: set[int] = set()
        # The year's second and third projects: their ended quarters' returns are overdue drafts and submissions
        # awaiting review.
        self.examples: dict[int, str] = {}
        self.drafts: dict[int, int] = {}  # project id -> its draft return in the open quarter
        self.measures: dict[int, list[int]] = {}
        self.sent_back: list[int] = []  # returns with two revisions

    def build(self, plan: YearPlan, projects: int) -> int:
        rows, rng = self.rows, self.rng
        # Years before the latest complete one have been closed by finance; that one is still open.
        closed = _at(plan.today, rng) if plan.start_year < start_year_of(plan.today) - 1 else None
        year = rows.add(
            "financial_year",
            start_year=plan.start_year,
            return_due_days=14,
            illustrative=False,
            illustrative_note=None,
            closed_at=closed,
        )
        streams = [
            rows.add(
                "funding_stream",
                year_id=year,
                name=name,
                funder="Police and Crime Commissioner",
                amount_pence=projects * 4_000_000,
            )
            for name in ("Crime Reduction Grant", "Violence Reduction Fund", "Victims Fund")
        ]
        priorities = [
            rows.add("priority", year_id=year, name=name, rank=rank)
            for rank, name in enumerate(
                ("Violence against women and girls", "Antisocial behaviour", "Serious violence", "Drugs", "Fraud"),
                start=1,
            )
        ]
        for number in range(projects):
            self._project(plan, year, number, streams[number % 3], priorities[number % 5])
        return year

    def _project(self, plan: YearPlan, year: int, number: int, stream: int, priority: int) -> None:
        rows, rng = self.rows, self.rng
        rng.seed(f"{plan.start_year}-{number}")
        organisation_index = number // PROJECTS_PER_ORGANISATION
        organisation = self.organisations[organisation_index % len(self.organisations)]
        amount = rng.randint(50, 600) * 10_000
        profiled = rng.random() < 0.5
        profile = [amount // 4] * 3 + [amount - 3 * (amount // 4)] if profiled else [None] * 4
        project = rows.add(
            "project",
            organisation_id=organisation,
            year_id=year,
            funding_stream_id=stream,
            priority_id=priority,
            name=f"Project {number:04d}: {rng.choice(('Safer Streets', 'Youth Mentoring', 'Victim Support'))}",
            description=rng.choice(self.pools["description"]),
            amount_pence=amount,
            actions=["Reduce repeat victimisation", "Engage young people at risk"],
            q1_profile_pence=profile[0],
            q2_profile_pence=profile[1],
            q3_profile_pence=profile[2],
            q4_profile_pence=profile[3],
        )
        if number in EXAMPLES:
            self.examples[project] = EXAMPLES[number]
        if organisation_index not in self.first_project:
            self.first_project[organisation_index] = project
            self.firsts.add(project)
        created = _at(date(plan.start_year, 4, 1), rng)
        _audit(
            rows,
            "project.created",
            "project",
            project,
            f"Created project Project {number:04d}",
            created,
            actor_id=self.people.csu,
            details={"changes": {"amount_pence": [None, amount], "organisation": [None, organisation]}},
        )
        measures = self._measures(project)
        self.measures[project] = [measure_id for measure_id, _name, _target in measures]
        partner = self.people.partners[organisation_index % len(self.organisations)]
        for quarter in (1, 2, 3, 4):
            rng.seed(f"{plan.start_year}-{number}-{quarter}")
            self.states.seed(f"{plan.start_year}-{number}-{quarter}-state")
            self._return(plan, project, (organisation, partner, organisation_index), quarter, measures, amount)
        self._ledger(plan, project, organisation, amount)

    def _measures(self, project: int) -> list[tuple[int, str, int]]:
        made = []
        for position in range(self.measures_per_project):
            name, unit = MEASURE_KINDS[position % len(MEASURE_KINDS)]
            if position >= len(MEASURE_KINDS):
                name = f"{name} ({position // len(MEASURE_KINDS) + 1})"
            target = self.rng.randint(40, 400)
            measure = self.rows.add(
                "output_measure",
                project_id=project,
                position=position,
                name=name,
                unit=unit,
                definition="Counted once per person per quarter" if position == 0 else None,
                combine="sum",
                annual_target=Decimal(target),
                q1_target=None,
                q2_target=None,
                q3_target=None,
                q4_target=None,
                decimals=unit == "hours",
                counts_people=unit == "people",
                retired_at=None,
            )
            made.append((measure, name, target))
        return made

    def _status(self, plan: YearPlan, quarter: int, project: int) -> str | None:
        state = plan.quarter_state(quarter)
        if state == "future":
            return None
        if state == "open":
            return DRAFT if project in self.firsts or self.states.random() < 0.5 else None
        if plan.complete or project in self.firsts:
            # Each organisation's first project, whose pages are timed, is in the same state at every scale.
            return APPROVED
        if project in self.examples:  # the due list and the review queue have a return to show at every scale
            return self.examples[project]
        return self.states.choices((APPROVED, SUBMITTED, CHANGES_REQUESTED, DRAFT), (70, 20, 5, 5))[0]

    def _return(self, plan: YearPlan, project: int, who: tuple, quarter: int, measures, amount: int) -> None:
        rows, rng, pools = self.rows, self.rng, self.pools
        organisation, partner, organisation_index = who
        status = self._status(plan, quarter, project)
        if status is None:
            return
        period = quarters_of(plan.start_year, 14)[quarter - 1]
        start = min(period.end, plan.today) if status == DRAFT else period.end
        # The first partner's first project is sent back once in Q1: its pages show a history.
        showcase = organisation_index == 0 and project in self.firsts and quarter == 1
        sent_back = status in (APPROVED, SUBMITTED) and (showcase or rng.random() < 0.1)
        narrative = {
            name: rng.choice(pools[name]) for name in ("progress", "case_study", "challenges", "partner_rag_reason")
        }
        spend = amount // 4 + rng.randint(-amount // 20, amount // 20)
        explanation = rng.choice(pools["spend_explanation"]) if rng.random() < 0.2 else None
        values = {measure: Decimal(max(0, target // 4 + rng.randint(-15, 15))) for measure, _name, target in measures}
        return_id = rows.next_id["monitoring_return"]
        events = self._return_events(return_id, quarter, status, sent_back, partner, organisation, start, values)
        submitted_at = events.get("submitted")
        approved_at = events.get("approved")
        rows.add(
            "monitoring_return",
            project_id=project,
            quarter=quarter,
            status=status,
            spend_pence=spend,
            spend_explanation=explanation,
            review_comment="Please say more about the case study." if sent_back else None,
            partner_rag=rng.choice((GREEN, GREEN, GREEN, AMBER, RED)),
            version=events["count"],
            created_at=_at(start, rng),
            updated_at=events["last"],
            updated_by_id=partner,
            last_editor=None,
            submitted_at=submitted_at,
            submitted_by_id=partner if submitted_at else None,
            approved_at=approved_at,
            approved_by_id=self.people.csu if approved_at else None,
            **narrative,
        )
        for measure, value in values.items():
            rows.add("measure_value", return_id=return_id, measure_id=measure, value=value)
        if submitted_at:
            names = {measure: name for measure, name, _target in measures}
            snapshot = {names[measure]: str(value) for measure, value in values.items()}
            for number, at in enumerate(events["submissions"], start=1):
                self._revision(return_id, number, snapshot, spend, explanation, narrative, partner, at)
            if sent_back:
                self.sent_back.append(return_id)
        if status in (APPROVED, SUBMITTED) and rng.random() < 0.25:
            rows.add(
                "csu_rating",
                project_id=project,
                quarter=quarter,
                rag=rng.choice((GREEN, AMBER, RED)),
                reason=rng.choice(pools["reason"]),
                set_by_id=self.people.csu,
                set_at=events["last"],
            )
            _audit(
                rows,
                "csu_rating.set",
                "project",
                project,
                f"CSU rated Q{quarter}",
                events["last"],
                actor_id=self.people.csu,
                organisation_id=organisation,
                details={"quarter": quarter},
            )
        if rng.random() < 0.03:
            rows.add(
                "return_arrangement",
                project_id=project,
                quarter=quarter,
                due_on=period.due + timedelta(days=14),
                not_required=False,
                reason=rng.choice(pools["reason"]),
                set_by_id=self.people.csu,
                set_at=_at(period.end, rng),
            )

    def _revision(self, return_id, number, snapshot, spend, explanation, narrative, partner, at) -> None:
        self.rows.add(
            "return_revision",
            return_id=return_id,
            number=number,
            submission_key=uuid.uuid4().hex,
            values=snapshot,
            spend_pence=spend,
            spend_explanation=explanation,
            submitted_at=at,
            submitted_by_id=partner,
            personal_data_kinds=None,
            personal_data_reason=None,
            **narrative,
        )

    def _return_events(self, return_id, quarter, status, sent_back, partner, organisation, start, values) -> dict:
        """The audit events a return leaves on its way to `status`: saves, submissions and the CSU's decisions."""
        rng, when = self.rng, _at(start, self.rng)
        happened: dict[str, Any] = {"count": 0, "submissions": []}

        def event(action: str, summary: str, actor: int | None, **details: Any) -> None:
            nonlocal when
            when += timedelta(hours=rng.randint(2, 72))
            _audit(
                self.rows,
                f"monitoring_return.{action}",
                "monitoring_return",
                return_id,
                f"{summary} Q{quarter} return",
                when,
                actor_id=actor,
                organisation_id=organisation,
                details=details,
            )
            happened["count"] += 1
            happened[action] = happened["last"] = when
            if action == "submitted":
                happened["submissions"].append(when)

        plain = {str(measure): str(value) for measure, value in values.items()}
        event("saved", "Saved outputs of", partner, section="outputs", changes=plain)
        event("saved", "Saved narrative of", partner, section="narrative", changes={"Progress": ["changed"] * 2})
        if status == DRAFT:
            return happened
        event("submitted", "Submitted", partner, revision=1, values=plain)
        if sent_back:
            event("changes_requested", "Requested changes to", self.people.csu, comment="Please say more.")
            event("saved", "Saved narrative of", partner, section="narrative", changes={})
            if status != CHANGES_REQUESTED:
                event("submitted", "Submitted", partner, revision=2, values=plain)
        elif status == CHANGES_REQUESTED:
            event("changes_requested", "Requested changes to", self.people.csu, comment="Please say more.")
        if status == APPROVED:
            event("approved", "Approved", self.people.csu, status=APPROVED)
        return happened

    def _ledger(self, plan: YearPlan, project: int, organisation: int, amount: int) -> None:
        rows, rng = self.rows, self.rng
        ended = [quarter for quarter in (1, 2, 3, 4) if plan.quarter_state(quarter) == "ended"]
        for quarter in (1, 2, 3, 4):
            period = quarters_of(plan.start_year, 14)[quarter - 1]
            rows.add(
                "payment_instalment",
                project_id=project,
                number=quarter,
                amount_pence=amount // 4,
                due_on=period.start + timedelta(days=14),
                after_quarter=quarter - 1 or None,
                note=None,
                created_by_id=self.people.finance,
                created_at=_at(date(plan.start_year, 4, 1), rng),
            )
        for quarter in [1, *[q + 1 for q in ended if q < 4]]:
            paid_on = quarters_of(plan.start_year, 14)[quarter - 1].start + timedelta(days=20)
            if paid_on > plan.today:
                continue
            payment = rows.add(
                "payment",
                project_id=project,
                kind="payment",
                amount_pence=amount // 4,
                paid_on=paid_on,
                reference=f"PAY-{project}-{quarter}",
                note=None,
                reason=None,
                reverses_id=None,
                recorded_by_id=self.people.finance,
                recorded_at=_at(paid_on, rng),
            )
            _audit(
                rows,
                "payment.recorded",
                "payment",
                payment,
                f"Recorded a payment to project {project}",
                _at(paid_on, rng),
                actor_id=self.people.finance,
                organisation_id=organisation,
                details={"project_id": project, "amount_pence": amount // 4, "paid_on": paid_on.isoformat()},
            )
            if rng.random() < 0.02:
                rows.add(
                    "payment",
                    project_id=project,
                    kind="reversal",
                    amount_pence=amount // 4,
                    paid_on=paid_on + timedelta(days=3),
                    reference=f"PAY-{project}-{quarter}",
                    note=None,
                    reason="Paid to the wrong account",
                    reverses_id=payment,
                    recorded_by_id=self.people.finance,
                    recorded_at=_at(paid_on + timedelta(days=3), rng),
                )
        if rng.random() < 0.05:
            rows.add(
                "award_variation",
                project_id=project,
                from_pence=amount - 100_000,
                to_pence=amount,
                reason="Extra sessions agreed at the mid-year review",
                varied_by_id=self.people.finance,
                varied_at=_at(date(plan.start_year, 10, 1), rng),
            )


# -- scratch databases ------------------------------------------------------------------------------


@dataclass
class Scratch:
    """A scratch database: a SQLite file in a temporary folder, or a PostgreSQL database created on the server a
    URL names (and dropped afterwards). The bench never writes into a database it did not make."""

    url: str
    folder: Path
    server_url: str | None = None
    name: str | None = None

    @classmethod
    def create(cls, server_url: str | None = None) -> Scratch:
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        if not server_url or server_url.startswith("sqlite"):
            return cls(f"sqlite:///{folder / 'bench.db'}", folder)
        if server_url.startswith("postgres://"):
            server_url = "postgresql+psycopg://" + server_url.removeprefix("postgres://")
        name = f"portal_bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        return cls(url, folder, server_url, name)

    def drop(self) -> None:
        import shutil

        if self.server_url and self.name:
            admin = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            admin.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)


def bench_config(url: str) -> dict:
    """The app's settings for the benchmark: production's, bar the database, a fixed secret and no second factor
    (the bench signs staff in by their session, as a browser that passed it would be)."""
    return {
        "TESTING": True,
        "SECRET_KEY": "bench-secret-" + "k" * 40,
        "SQLALCHEMY_DATABASE_URI": url,
        "MFA_REQUIRED_ROLES": (),
    }


# -- building ----------------------------------------------------------------------------------------


def _years(scale: Scale, today: date) -> Iterator[YearPlan]:
    current = start_year_of(today)
    for start in range(current - scale.years + 1, current + 1):
        yield YearPlan(start, today, complete=start < current)


def build(url: str, scale: Scale, *, seed: int = 15, today: date | None = None, echo=print) -> BenchData:
    """Create the schema in an empty database at `url` and fill it; returns what the timing needs."""
    import time as clock

    from portal import create_app
    from portal.extensions import db
    from portal.services.passwords import hash_password

    started = clock.perf_counter()
    today = today or uk_today()
    app = create_app(bench_config(url))
    rng = random.Random(seed)
    pools = _pools(rng)
    rows = Rows()
    # The scratch accounts' password: BENCH_PASSWORD when given (to sign in by hand with --keep), else made per run.
    password = os.environ.get("BENCH_PASSWORD") or secrets.token_urlsafe(16)
    with app.app_context():
        if sa.inspect(db.engine).get_table_names():
            raise RuntimeError(f"{db.engine.url.render_as_string()} is not empty: the bench builds a scratch database")
        db.create_all()
        metadata = db.metadata
        organisations, people = _organisations(
            rows, max(1, scale.projects_per_year // PROJECTS_PER_ORGANISATION), hash_password(password)
        )
        builders = []
        with db.engine.begin() as connection:
            rows.write(connection, metadata)
        for plan in _years(scale, today):
            builder = YearBuilder(rows, rng, pools, people, organisations, scale.measures_per_project)
            builder.build(plan, scale.projects_per_year)
            with db.engine.begin() as connection:
                rows.write(connection, metadata)
            builders.append((plan, builder))
            echo(f"  {year_label(plan.start_year)}: {dict(rows.counts)}")
        _finish(db.engine, rows)
        derived = _rebuild_derived(app)
        data = _describe(url, scale, today, builders, people, db.engine, rows, password)
        data.seconds = round(clock.perf_counter() - started, 1)
        if derived:
            echo(f"  {derived}")
        db.engine.dispose()
    return data


def _finish(engine: sa.Engine, rows: Rows) -> None:
    """PostgreSQL: sequences past the ids given here, and fresh planner statistics (autovacuum would gather them)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        for table in rows.next_id:
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))"  # noqa: S608 (our table names)
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")


def _rebuild_derived(app) -> str | None:
    """Anything the app keeps derived from these rows (a per-project summary) is recomputed by the app's own
    command, when it has one: the bench never computes the app's figures itself."""
    group = app.cli.commands.get("summaries")
    if group is None or "rebuild" not in getattr(group, "commands", {}):
        return None
    result = app.test_cli_runner().invoke(args=["summaries", "rebuild"])
    if result.exit_code != 0:
        raise RuntimeError(f"flask summaries rebuild failed: {result.output}")
    return f"flask summaries rebuild: {result.output.strip()}"


def _describe(url, scale, today, builders, people: People, engine, rows: Rows, password: str) -> BenchData:
    (current_plan, current), busy = builders[-1], builders[-2][1] if len(builders) > 1 else builders[-1][1]
    open_quarter = next(q for q in (1, 2, 3, 4) if current_plan.quarter_state(q) == "open")
    overview_quarter = 1 if current_plan.quarter_state(1) == "ended" else open_quarter
    with engine.connect() as connection:
        tokens = dict(
            connection.execute(
                sa.text(
                    'SELECT r.role, u.session_token FROM "user" u JOIN user_role r ON r.user_id = u.id '
                    "WHERE u.id IN (:partner, :csu, :finance, :admin)"
                ),
                {"partner": people.partners[0], "csu": people.csu, "finance": people.finance, "admin": people.admin},
            ).all()
        )
        counts = {
            table: connection.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()  # noqa: S608
            for table in Rows.ORDER
        }
    autosavers = [
        {"email": f"partner{index}@bench.test", "project": project, "quarter": open_quarter}
        for index, project in sorted(current.first_project.items())[:8]
    ]
    busy_label = year_label(builders[-2][0].start_year if len(builders) > 1 else current_plan.start_year)
    return BenchData(
        scale=scale.name,
        url=url,
        dialect=engine.dialect.name,
        current_year=year_label(current_plan.start_year),
        busy_year=busy_label,
        open_quarter=open_quarter,
        overview_quarter=overview_quarter,
        password=password,
        emails={"partner": "partner0@bench.test", "csu": "csu@bench.test", "finance": "finance@bench.test"},
        tokens=tokens,
        partner_project=current.first_project[0],
        csu_project=busy.first_project[0],
        review_return=busy.sent_back[0] if busy.sent_back else 1,
        autosavers=autosavers,
        counts=counts,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default=os.environ.get("BENCH_SCALE", "modest"))
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL"), help="a server to make a scratch db on"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and print its URL")
    args = parser.parse_args()
    scratch = Scratch.create(args.database_url)
    try:
        data = build(scratch.url, SCALES[args.scale])
        print(data.to_json())
    finally:
        if not args.keep:
            scratch.drop()


if __name__ == "__main__":
    main()
