"""Small builders for read-model test data (not fixtures: plain functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from parcours.kernel.domain import (
    CaseEvent,
    CaseSnapshot,
    CaseStatus,
    NewcomerApproval,
    RegisterCase,
    Stage,
    workflow_id_for,
)

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def snapshot(
    dossier: str = "D-1",
    *,
    region: str = "montreal",
    language: str = "fr",
    status: CaseStatus = CaseStatus.ACTIVE,
    stage: Stage | None = Stage.ARRIVAL,
    officer_id: str | None = None,
    escalation_level: int = 0,
    at: datetime = T0,
) -> CaseSnapshot:
    return CaseSnapshot(
        dossier=dossier,
        region=region,
        language=language,
        arrival_date="2026-03-10",
        status=status,
        stage=stage,
        officer_id=officer_id,
        escalation_level=escalation_level,
        stalled_since=at if escalation_level else None,
        overdue=False,
        stage_started_at=at,
        last_activity_at=at,
        started_at=T0,
        closed_at=at if status in (CaseStatus.COMPLETED, CaseStatus.WITHDRAWN) else None,
    )


def approval(dossier: str = "D-1", *, region: str = "montreal", language: str = "fr"):
    return NewcomerApproval(
        dossier=dossier,
        full_name="Ana Pérez",
        email=f"{dossier.lower()}@newcomer.example",
        arrival_date="2026-03-10",
        region=region,
        language=language,
    )


def register(dossier: str = "D-1", *, region: str = "montreal", language: str = "fr"):
    return RegisterCase(
        workflow_id=workflow_id_for(dossier),
        approval=approval(dossier, region=region, language=language),
        snapshot=snapshot(dossier, region=region, language=language),
    )


def event(
    step: int,
    snap: CaseSnapshot,
    *,
    kind: str = "stage_started",
    at: datetime | None = None,
    text: str | None = None,
) -> CaseEvent:
    when = at or T0 + timedelta(minutes=step)
    return CaseEvent(
        key=f"{workflow_id_for(snap.dossier)}:{step:06d}:{kind}",
        workflow_id=workflow_id_for(snap.dossier),
        kind=kind,
        at=when,
        snapshot=snap,
        text=text,
    )
