"""Reconcile: rebuild the read model's case projection from the workflows, the source of truth.

After an outage (database down, a restore from backup, a bug in a projection), the `cases`
table may lag behind or disagree with Temporal. This walks every pathway workflow in
visibility, asks each its state (the `view` query, open or closed), compares it with the row,
and (unless dry-run) rewrites the projection columns. A missing row is recreated, with the
contact data taken from the workflow's own input (decrypted by our codec). Contact data that
the retention sweep erased is never brought back.

It also sweeps the outbox (`sweep_outbox`): an email left in doubt that no activity retry will
come back for (its workflow terminated meanwhile, or an older at-most-once worker left it
`unconfirmed`) is sent again with its Message-ID once its lease is over, given up on (the
supervisors told), or dropped if stale: activities/notify.py, `Notifier.sweep`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.notify import Notifier, SweepReport
from parcours.infrastructure.config import Settings
from parcours.infrastructure.mail.render import Renderer
from parcours.infrastructure.mail.smtp import Mailer
from parcours.infrastructure.store.models import Case
from parcours.infrastructure.temporal import WORKFLOW_TYPE, view_case
from parcours.kernel import inputs
from parcours.kernel.domain import CaseInput, CaseView, dossier_of
from parcours.kernel.errors import ParcoursError

CONCURRENCY = 32
# Projection columns compared and repaired, with the view's value for each.
FIELDS = (
    "status",
    "stage",
    "officer_id",
    "escalation_level",
    "stalled_since",
    "overdue",
    "last_activity_at",
    "started_at",
    "closed_at",
)


@dataclass
class Difference:
    dossier: str
    # "missing" (no row), or the column names that disagree
    problem: str
    read_model: dict[str, Any] = field(default_factory=dict)
    workflow: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        def plain(v: Any) -> Any:
            return v.isoformat() if isinstance(v, datetime | date) else v

        return {
            "dossier": self.dossier,
            "problem": self.problem,
            "read_model": {k: plain(v) for k, v in self.read_model.items()},
            "workflow": {k: plain(v) for k, v in self.workflow.items()},
        }


@dataclass(frozen=True)
class Unnormalised:
    """A case opened under a dossier number that is not in today's form (lower-case, from
    before numbers were normalised). Still reachable by its exact number; a new approval for
    the same dossier would now open a second case under `normalised`."""

    dossier: str
    normalised: str
    # A case exists under the normalised number too: the same person may have two cases.
    twin: bool

    def to_json(self) -> dict[str, object]:
        return {"dossier": self.dossier, "normalised": self.normalised, "twin": self.twin}


@dataclass
class Report:
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    fixed: int = 0
    unreadable: list[str] = field(default_factory=list)
    unnormalised: list[Unnormalised] = field(default_factory=list)

    def to_json(self, dry_run: bool) -> dict[str, object]:
        return {
            "checked": self.checked,
            "differences": [d.to_json() for d in self.differences],
            "fixed": self.fixed,
            "dry_run": dry_run,
            "unreadable": self.unreadable,
            "unnormalised": [u.to_json() for u in self.unnormalised],
        }


def unnormalised(names: list[str]) -> list[Unnormalised]:
    """The dossiers among `names` (every case's) that are not in normalised form."""
    known = set(names)
    found = []
    for name in sorted(known):
        try:
            normal = inputs.dossier(name)
        except ParcoursError:
            continue  # not a dossier number at all: not ours to judge here
        if normal != name:
            found.append(Unnormalised(name, normal, normal in known))
    return found


def projection(view: CaseView) -> dict[str, Any]:
    stage_started = next(
        (s.started_at for s in view.stages if view.stage and s.stage == view.stage), None
    )
    return {
        "status": view.status.value,
        "stage": view.stage.value if view.stage else None,
        "officer_id": view.officer,
        "escalation_level": view.escalation_level,
        "stalled_since": view.stalled_since,
        "overdue": view.overdue,
        "last_activity_at": view.last_activity_at,
        "started_at": view.started_at,
        "closed_at": view.closed_at,
        "stage_started_at": stage_started,
        "region": view.region,
        "language": view.language,
        "arrival_date": date.fromisoformat(view.arrival_date),
    }


async def dossiers(client: Client, query: str | None = None) -> list[str]:
    q = f"WorkflowType = '{WORKFLOW_TYPE}'"
    if query:
        q += f" AND ({query})"
    found = {dossier_of(w.id) async for w in client.list_workflows(q)}
    return sorted(found)


async def _approval_of(client: Client, dossier: str) -> Any:
    """The newcomer's approval from the current run's input (decrypted by the client)."""
    handle = client.get_workflow_handle(f"newcomer-{dossier}")
    async for event in handle.fetch_history_events():
        attrs = event.workflow_execution_started_event_attributes
        [inp] = await client.data_converter.decode(attrs.input.payloads, [CaseInput])
        return inp.approval
    return None


async def reconcile(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    dry_run: bool = False,
    only: list[str] | None = None,
) -> Report:
    report = Report()
    targets = only if only is not None else await dossiers(client)
    report.unnormalised = unnormalised(targets if only is None else await dossiers(client))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(dossier: str) -> None:
        async with gate:
            try:
                view = await view_case(client, settings, dossier)
            except Exception:
                report.unreadable.append(dossier)
                return
            await _check(client, sessions, view, report, dry_run)

    await asyncio.gather(*(one(d) for d in targets))
    report.checked = len(targets)
    report.differences.sort(key=lambda d: d.dossier)
    report.unreadable.sort()
    return report


async def _check(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    view: CaseView,
    report: Report,
    dry_run: bool,
) -> None:
    wanted = projection(view)
    async with sessions() as session, session.begin():
        case = await session.get(Case, view.dossier, with_for_update=True)
        if case is None:
            report.differences.append(
                Difference(view.dossier, "missing", {}, {k: wanted[k] for k in FIELDS})
            )
            if dry_run:
                return
            case = Case(dossier=view.dossier, workflow_id=f"newcomer-{view.dossier}")
            approval = await _approval_of(client, view.dossier)
            if approval is not None:
                case.full_name, case.email, case.phone = (
                    approval.full_name,
                    approval.email,
                    approval.phone,
                )
            for k, v in wanted.items():
                setattr(case, k, v)
            case.last_event_seq = 0
            session.add(case)
            report.fixed += 1
            return
        wrong = [k for k in FIELDS if getattr(case, k) != wanted[k]]
        if not wrong:
            return
        report.differences.append(
            Difference(
                view.dossier,
                ",".join(wrong),
                {k: getattr(case, k) for k in wrong},
                {k: wanted[k] for k in wrong},
            )
        )
        if not dry_run:
            for k, v in wanted.items():
                setattr(case, k, v)
            report.fixed += 1


async def sweep_outbox(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> SweepReport:
    """The emails in doubt, handled as the worker's Notifier would (same settings)."""
    async with contextlib.aclosing(Mailer.from_settings(settings)) as mailer:
        notifier = Notifier(
            sessions,
            mailer,
            Renderer.from_settings(settings),
            resend_lease_s=settings.mail_resend_lease_s,
            max_resends=settings.mail_max_resends,
        )
        return await notifier.sweep()
