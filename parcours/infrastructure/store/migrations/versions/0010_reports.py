"""The programme's report facts (issue 18): the greeting, the first meeting and the plan's
timeliness on the case row, the stages' spans, and what the reports' queries need indexed.
Filled here from the audit trail already recorded; afterwards the projection records them
(store/report_facts.py).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STARTS = "('case_opened', 'stage_started')"
_ENDS = "('stage_approved', 'stage_waived')"
_MEETING = "('meeting_booked', 'meeting_rescheduled', 'meeting_cancelled')"


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("greeting", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("greeting_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("meeting_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("meeting_late", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("meeting_event_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("plan_filed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("plan_overdue_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_audit_events_report", "audit_events", ["kind", "at", "dossier", "detail"], unique=False
    )
    op.create_table(
        "stage_spans",
        sa.Column("dossier", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("days", sa.Float(), nullable=True),
        sa.Column("ended_month", sa.String(length=7), nullable=True),
        sa.PrimaryKeyConstraint("dossier", "stage"),
    )
    _backfill()
    # After the backfill: one index build each rather than an update of each entry.
    op.create_index(
        "ix_stage_spans_report",
        "stage_spans",
        ["ended_month", "region", "stage", "days"],
        unique=False,
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_report_opened",
            [
                "started_at",
                "region",
                "greeting",
                "meeting_on",
                "meeting_late",
                "plan_filed_at",
                "plan_overdue_at",
            ],
            unique=False,
        )
        batch_op.create_index("ix_cases_report_closed", ["closed_at", "region"], unique=False)
        batch_op.create_index(
            "ix_cases_report_open", ["status", "region", "officer_id"], unique=False
        )


def _backfill() -> None:
    """The facts of the cases already recorded, from their audit rows (set-based: one
    statement each, whatever the number of cases)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute(
        f"""
        INSERT INTO stage_spans (dossier, stage, started_at, ended_at)
        SELECT dossier, stage,
               MIN(CASE WHEN kind IN {_STARTS} THEN at END),
               MIN(CASE WHEN kind IN {_ENDS} THEN at END)
        FROM audit_events
        WHERE stage IS NOT NULL AND kind IN {_STARTS[:-1]}, {_ENDS[1:]}
        GROUP BY dossier, stage
        """
    )
    days = (
        "EXTRACT(EPOCH FROM ended_at - started_at) / 86400.0"
        if postgres
        else "julianday(ended_at) - julianday(started_at)"
    )
    month = (
        "TO_CHAR(ended_at AT TIME ZONE 'UTC', 'YYYY-MM')" if postgres else "SUBSTR(ended_at, 1, 7)"
    )
    op.execute(
        f"""
        UPDATE stage_spans SET
          region = (SELECT c.region FROM cases c WHERE c.dossier = stage_spans.dossier),
          days = CASE WHEN started_at IS NOT NULL AND ended_at IS NOT NULL THEN {days} END,
          ended_month = {month}
        """
    )

    def newest(kinds: str, column: str) -> str:
        return (
            f"(SELECT a.{column} FROM audit_events a WHERE a.dossier = cases.dossier "
            f"AND a.kind IN {kinds} ORDER BY a.at DESC, a.id DESC LIMIT 1)"
        )

    day = "CAST(SUBSTR(m.detail, 1, 10) AS DATE)" if postgres else "SUBSTR(m.detail, 1, 10)"
    op.execute(
        f"""
        UPDATE cases SET
          greeting = {newest("('airport_greeting')", "detail")},
          greeting_at = {newest("('airport_greeting')", "at")},
          meeting_event_at = {newest(_MEETING, "at")},
          plan_filed_at = (SELECT MIN(a.at) FROM audit_events a
                           WHERE a.dossier = cases.dossier AND a.kind = 'plan_filed')
        """
    )
    op.execute(
        f"""
        UPDATE cases SET
          meeting_on = (SELECT CASE WHEN m.kind = 'meeting_cancelled' THEN NULL ELSE {day} END
                        FROM audit_events m WHERE m.dossier = cases.dossier
                        AND m.kind IN {_MEETING} ORDER BY m.at DESC, m.id DESC LIMIT 1),
          meeting_late = (SELECT CASE WHEN m.kind = 'meeting_cancelled' THEN NULL
                                      ELSE m.detail LIKE '% late' END
                          FROM audit_events m WHERE m.dossier = cases.dossier
                          AND m.kind IN {_MEETING} ORDER BY m.at DESC, m.id DESC LIMIT 1),
          plan_overdue_at = (SELECT MIN(a.at) FROM audit_events a
                             WHERE a.dossier = cases.dossier AND a.kind = 'stage_overdue'
                             AND a.stage = 'arrival'
                             AND (cases.plan_filed_at IS NULL OR a.at < cases.plan_filed_at))
        WHERE EXISTS (SELECT 1 FROM audit_events a WHERE a.dossier = cases.dossier
                      AND a.kind IN ({_MEETING[1:-1]}, 'stage_overdue'))
        """
    )


def downgrade() -> None:
    op.drop_index("ix_stage_spans_report", table_name="stage_spans")
    op.drop_table("stage_spans")
    op.drop_index("ix_audit_events_report", table_name="audit_events")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_report_open")
        batch_op.drop_index("ix_cases_report_closed")
        batch_op.drop_index("ix_cases_report_opened")
        batch_op.drop_column("plan_overdue_at")
        batch_op.drop_column("plan_filed_at")
        batch_op.drop_column("meeting_event_at")
        batch_op.drop_column("meeting_late")
        batch_op.drop_column("meeting_on")
        batch_op.drop_column("greeting_at")
        batch_op.drop_column("greeting")
