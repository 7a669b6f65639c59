"""Tables of the read model (SQLAlchemy 2, typed mappings).

Datetimes are stored as UTC and always read back timezone-aware, on SQLite as on PostgreSQL,
so projection writes can compare them safely.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def split_languages(languages: str) -> list[str]:
    """An officer's `languages` column ("fr,en") as a list."""
    return [x for x in (s.strip() for s in languages.split(",")) if x]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # Workflow and activity code only hands us aware datetimes; a naive one is a bug
            # upstream, and guessing its zone would silently shift the clocks.
            raise ValueError("naive datetime given to the read model; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Officer(Base):
    """An integration assistance officer, a supervisor (coordinator) or a director."""

    __tablename__ = "officers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    region: Mapped[str] = mapped_column(String(64), index=True)
    # ISO 639-1 codes, comma-separated ("fr,en"): small, and the only query on it is "speaks X".
    languages: Mapped[str] = mapped_column(String(200), default="fr")
    role: Mapped[str] = mapped_column(String(16), default="officer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A leave (migration 0009): local days, both included; new cases skip the officer and
    # their stall reminders go to `backup_id` (else the region's supervisors) on those days.
    leave_from: Mapped[date | None] = mapped_column(Date, default=None)
    leave_to: Mapped[date | None] = mapped_column(Date, default=None)
    backup_id: Mapped[str | None] = mapped_column(String(64), default=None)

    @property
    def language_list(self) -> list[str]:
        return split_languages(self.languages)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "region": self.region,
            "languages": self.language_list,
            "role": self.role,
            "active": self.active,
            "leave": (
                {
                    "from": self.leave_from.isoformat(),
                    "to": self.leave_to.isoformat(),
                    "backup": self.backup_id,
                }
                if self.leave_from is not None and self.leave_to is not None
                else None
            ),
        }


class RosterChange(Base):
    """One change to the roster (migration 0009): who made it, when, to which officer, and
    what changed. Ids, field names, codes and dates only: never a name or an address."""

    __tablename__ = "roster_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64))
    officer_id: Mapped[str] = mapped_column(String(64), index=True)
    # "added", "updated", "leave", "leave_cancelled"
    change: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


class Case(Base):
    """The projection of one case, plus the newcomer's contact data (its system of record)."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_officer_status", "officer_id", "status"),
        Index("ix_cases_region_status", "region", "status"),
        # The reports (migration 0010): cases opened per region and month with their facts,
        # and cases closed, each read from its index alone (no row lookups: see bench/).
        Index(
            "ix_cases_report_opened",
            "started_at",
            "region",
            "greeting",
            "meeting_on",
            "meeting_late",
            "plan_filed_at",
            "plan_overdue_at",
        ),
        Index("ix_cases_report_closed", "closed_at", "region"),
        Index("ix_cases_report_open", "status", "region", "officer_id"),
    )

    dossier: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(128), unique=True)
    region: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="fr")
    arrival_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str | None] = mapped_column(String(16))
    # Not a foreign key: the workflow owns assignment, and an officer row may be retired
    # without rewriting history.
    officer_id: Mapped[str | None] = mapped_column(String(64))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    stalled_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    stage_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The newest event applied to this row, as (at, seq): activities may be retried or land
    # out of order, and an older snapshot must never overwrite a newer one.
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_event_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Personal data: never logged, never copied into Temporal search attributes.
    full_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    # When the retention sweep erased the personal data above (and the case's note texts and
    # email bodies); the projection itself stays, as anonymous statistics.
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    # The programme's report facts (migration 0010, issue 18), recorded from the audit events
    # by the projection (store/report_facts.py), never by the workflow: NULL until the event.
    # The airport greeting's outcome (the newest recorded) and when it was recorded.
    greeting: Mapped[str | None] = mapped_column(String(16), default=None)
    greeting_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The first meeting as it now stands: its local day, whether it falls after the plan's due
    # day (the workflow's own "late"), and the moment of the event that set it. A cancelled
    # meeting clears the day.
    meeting_on: Mapped[date | None] = mapped_column(Date, default=None)
    meeting_late: Mapped[bool | None] = mapped_column(Boolean, default=None)
    meeting_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The first plan filed, and the first time the arrival stage went overdue before it.
    plan_filed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    plan_overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class StageSpan(Base):
    """When a case's stage started and ended (approved or waived), from its audit events
    (migration 0010, issue 18): the report's time per stage. A reopened case keeps the spans
    of its first period."""

    __tablename__ = "stage_spans"
    # The report reads the spans that ended in a period from this index alone, in the order
    # its percentiles rank them (no sort).
    __table_args__ = (Index("ix_stage_spans_report", "ended_month", "region", "stage", "days"),)

    dossier: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The case's region when the stage was last recorded, and the days from start to end
    # once both are known: what the report groups and ranks, without a join or date math.
    region: Mapped[str | None] = mapped_column(String(64), default=None)
    days: Mapped[float | None] = mapped_column(Float, default=None)
    # The UTC month ("2026-03") the stage ended in.
    ended_month: Mapped[str | None] = mapped_column(String(7), default=None)


class AuditEvent(Base):
    """One line of the append-only audit trail: transitions, officer actions, escalations,
    emails. Rows are only ever inserted; the one change the database allows (a trigger, see
    migrations 0002 and 0005) is the retention sweep setting `text` to NULL. Each row is
    sealed into its case's chain (parcours/infrastructure/store/chain.py)."""

    __tablename__ = "audit_events"
    # Rows of one case are chained in strict order: two writers can never take the same place
    # (infrastructure/store/audit.py also serializes them, so this is the last line of defence).
    __table_args__ = (
        Index("uq_audit_events_dossier_seq", "dossier", "seq", unique=True),
        # The reports' events of a kind within a period, read from the index alone
        # (migration 0010).
        Index("ix_audit_events_report", "kind", "at", "dossier", "detail"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Workflow id + business step: the idempotency key of the write.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    dossier: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    # Free text (notes, reasons): personal data, kept here and nowhere else.
    text: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The chain (infrastructure/store/chain.py, migration 0005): the row's place in its case
    # (1, 2, 3 ...), the keyed digest of `text` (kept when the purge erases the text), the id
    # of the key that sealed the row and its HMAC. Nullable because SQLite adds a NOT NULL
    # column only by rebuilding the table; a row without them fails `parcours audit verify`.
    seq: Mapped[int | None] = mapped_column(Integer)
    text_digest: Mapped[str | None] = mapped_column(String(64))
    chain_key: Mapped[str | None] = mapped_column(String(64))
    chain_mac: Mapped[str | None] = mapped_column(String(64))


class OutboxStatus:
    PENDING = "pending"
    # Claimed by an attempt that is talking to the SMTP server right now (or died doing so).
    SENDING = "sending"
    SENT = "sent"
    # A later attempt found a "sending" row: the earlier attempt may or may not have been
    # accepted by the server. Sent again (same Message-ID) once its lease has run out.
    UNCONFIRMED = "unconfirmed"
    REJECTED = "rejected"
    NO_RECIPIENT = "no_recipient"
    # Still unconfirmed after the allowed resends: given up, audited, supervisors told.
    FAILED = "failed"
    # Older than the staleness limit when a retry found it in doubt: dropped, audited.
    STALE = "stale"
    # Nothing will send these again: done, one way or the other.
    SETTLED = frozenset({SENT, REJECTED, NO_RECIPIENT, FAILED, STALE})
    # The server may or may not have the message.
    IN_DOUBT = frozenset({SENDING, UNCONFIRMED})


class OutboxMessage(Base):
    """Every email, keyed by its idempotency key: a retried activity sends it once, and again
    (same Message-ID, same content) only if an attempt died mid-exchange."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    dossier: Mapped[str] = mapped_column(String(64), index=True)
    template: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[str] = mapped_column(String(32), default="fr")
    subject: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    message_id: Mapped[str | None] = mapped_column(String(200))
    # When the current attempt claimed it ("sending"): the resend lease runs from here.
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Times it was sent again after an attempt died mid-exchange (migration 0006).
    resends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Partner(Base):
    """A partner organisation of the referral directory (issue 16): where officers refer
    newcomers (a Francisation Québec service point, a regional employment organisation...).
    Its contact details are the organisation's, given to newcomers in their referral email."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(64), index=True)
    # Comma-separated subset of PARTNER_SERVICES ("francization,employment").
    services: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    @property
    def service_list(self) -> list[str]:
        return split_languages(self.services)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "region": self.region,
            "services": self.service_list,
            "email": self.email,
            "phone": self.phone,
            "url": self.url,
            "active": self.active,
        }
