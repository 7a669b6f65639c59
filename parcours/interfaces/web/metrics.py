"""Prometheus metrics: the read model's counts, refreshed at each scrape, and the web's own
request latencies and officer actions.

Labels hold closed vocabularies only (stage, status, route template, action): never a dossier,
a name or a raw path, which would be personal data or unbounded cardinality.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import AuditEvent, Case


@dataclass
class ReadModelCounts:
    cases: dict[tuple[str, str], int] = field(default_factory=dict)  # (stage, status) -> n
    escalations: dict[str, int] = field(default_factory=dict)  # level -> n
    officer_actions: dict[str, int] = field(default_factory=dict)  # audit kind -> n


# Audit kinds that are a person's action (the rest are the workflow's own doing).
OFFICER_ACTION_KINDS = (
    "airport_greeting",
    "plan_filed",
    "progress_note",
    "stage_approved",
    "stage_waived",
    "reassigned",
    "transferred",
    "paused",
    "resumed",
    "case_withdrawn",
    "case_declined",
    "case_reopened",
)


async def read_counts(session: AsyncSession) -> ReadModelCounts:
    counts = ReadModelCounts()
    rows = await session.execute(
        select(Case.stage, Case.status, func.count()).group_by(Case.stage, Case.status)
    )
    for stage, status, n in rows.all():
        counts.cases[(stage or "closed", status)] = int(n)
    escalated = await session.execute(
        select(AuditEvent.detail, func.count())
        .where(AuditEvent.kind == "escalated")
        .group_by(AuditEvent.detail)
    )
    for level, n in escalated.all():
        counts.escalations[str(level)] = int(n)
    actions = await session.execute(
        select(AuditEvent.kind, func.count())
        .where(AuditEvent.kind.in_(OFFICER_ACTION_KINDS))
        .group_by(AuditEvent.kind)
    )
    for kind, n in actions.all():
        counts.officer_actions[kind] = int(n)
    return counts


class _ReadModelCollector(Collector):
    def __init__(self) -> None:
        self.counts = ReadModelCounts()

    def collect(self) -> Iterator[Metric]:
        cases = GaugeMetricFamily(
            "parcours_cases",
            "Cases in the read model by stage and status",
            labels=["stage", "status"],
        )
        for (stage, status), n in sorted(self.counts.cases.items()):
            cases.add_metric([stage, status], n)
        yield cases
        esc = CounterMetricFamily(
            "parcours_escalations", "Escalations recorded in the audit trail", labels=["level"]
        )
        for level, n in sorted(self.counts.escalations.items()):
            esc.add_metric([level], n)
        yield esc
        acts = CounterMetricFamily(
            "parcours_officer_actions",
            "Officer actions recorded in the audit trail (all interfaces)",
            labels=["kind"],
        )
        for kind, n in sorted(self.counts.officer_actions.items()):
            acts.add_metric([kind], n)
        yield acts


class WebMetrics:
    """One registry per app, so tests can build several apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._read_model = _ReadModelCollector()
        self.registry.register(self._read_model)
        self.request_seconds = Histogram(
            "parcours_web_request_seconds",
            "Web request latency",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.actions = Counter(
            "parcours_web_actions",
            "Case actions submitted through the web console, by outcome",
            ["action", "outcome"],
            registry=self.registry,
        )

    def render(self, counts: ReadModelCounts) -> bytes:
        self._read_model.counts = counts
        return generate_latest(self.registry)
