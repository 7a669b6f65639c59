"""What a batch reads and writes in the read model (issue 17): a filter resolved to its list
within what the actor may see, an officer's open cases, the roster a redistribution picks
from, a departure checked and deactivated (audited), and the batch's derived id."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.batches import BatchWork
from parcours.application.batches import (
    batch_id_for,
    bulk_request,
    cases_of_filter,
    check_bulk,
    departure,
    open_cases_of_officer,
    parse_filter,
)
from parcours.infrastructure.codec import new_key
from parcours.infrastructure.signing import Signer
from parcours.infrastructure.store.officers import (
    NewOfficer,
    OfficerError,
    deactivate_officer,
    get_officer,
    roster_changes,
    set_leave,
    update_officer,
)
from parcours.kernel.authz import PROGRAMME_ALLOWED, ProgrammeAction, Scope
from parcours.kernel.batches import (
    BatchCheck,
    BatchKind,
    BatchProgress,
    BatchRequest,
    CaseAction,
    CaseActionResult,
    CaseOutcome,
    CaseResult,
    DepartureCheck,
    RosterLookup,
)
from parcours.kernel.domain import Actor, Reassignment, Role
from parcours.kernel.errors import ParcoursError
from tests.security.test_authz import PROGRAMME_ACTORS, REGION
from tests.store.conftest import add
from tests.store.test_finder import DIRECTOR, OTHER_SUPERVISOR, SUPERVISOR, case, seed

ROSTER = (
    NewOfficer("atremblay", "A", "a@parcours.example", "montreal", "fr,en"),
    NewOfficer("crodriguez", "C", "c@parcours.example", "montreal", "fr,es"),
    NewOfficer("yhaddad", "Y", "y@parcours.example", "montreal", "fr,ar"),
    NewOfficer("jgagnon", "J", "j@parcours.example", "capitale-nationale", "fr"),
    NewOfficer("nbouchard", "N", "n@parcours.example", "montreal", "fr", "supervisor"),
    NewOfficer("hcote", "H", "h@parcours.example", "capitale-nationale", "fr", "director"),
)


async def cases(sessions: async_sessionmaker[AsyncSession]) -> None:
    await add(sessions, *ROSTER)
    await seed(
        sessions,
        case("D-1", "Amina", officer="atremblay", level=2),
        case("D-2", "Luis", officer="atremblay"),
        case("D-3", "Lina", officer="crodriguez", level=3),
        case("D-4", "Omar", officer="atremblay", status="withdrawn"),
        case("Q-1", "Jean", region="capitale-nationale", officer="jgagnon", level=2),
    )


async def test_a_filter_is_resolved_to_the_open_cases_the_actor_may_see(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await cases(sessions)
    async with sessions() as session:
        assert await cases_of_filter(session, DIRECTOR, "min-level=2") == ["D-1", "D-3", "Q-1"]
        # A supervisor sees their region's only, whatever the filter asks.
        assert await cases_of_filter(session, SUPERVISOR, "min-level=2") == ["D-1", "D-3"]
        assert await cases_of_filter(session, OTHER_SUPERVISOR, "region=montreal") == []
        assert await cases_of_filter(session, DIRECTOR, "officer=atremblay, stage=arrival") == [
            "D-1",
            "D-2",
        ]
        assert await open_cases_of_officer(session, "atremblay") == ["D-1", "D-2"]
    for bad in ("", "colour=blue", "stage=moon", "min-level=9", "region=mars", "officer=A B"):
        with pytest.raises(ParcoursError):
            parse_filter(bad)


def _signer(key_id: str) -> Signer:
    return Signer((new_key(key_id),))


def test_the_derived_id_follows_the_action_the_list_and_the_day_and_a_given_one_wins() -> None:
    signer = _signer("ids")
    today = date(2026, 12, 3)

    def id_of(r: BatchRequest, digest: Signer = signer, day: date = today) -> str:
        return batch_id_for(r, digest.batch_digest, day)

    req = BatchRequest(BatchKind.NOTE, ["D-1", "D-2"], DIRECTOR, note="revu en comité")
    same = BatchRequest(BatchKind.NOTE, ["D-1", "D-2"], SUPERVISOR, note="revu en comité")
    assert id_of(req) == id_of(same)  # who submits it does not make it another
    assert id_of(req).startswith("note-") and "comit" not in id_of(req)
    for other in (
        BatchRequest(BatchKind.NOTE, ["D-2", "D-1"], DIRECTOR, note="revu en comité"),
        BatchRequest(BatchKind.NOTE, ["D-1", "D-2"], DIRECTOR, note="autre"),
        BatchRequest(BatchKind.PAUSE, ["D-1", "D-2"], DIRECTOR, note="revu en comité"),
    ):
        assert id_of(other) != id_of(req)
    # The same action another day is another batch, not a silent no-op.
    assert id_of(req, day=date(2027, 1, 3)) != id_of(req)
    # Keyed: without the keys, the id of a note cannot be computed (to read the note back
    # by trying candidates, or to start the batch first on a queue nobody serves).
    assert id_of(req, digest=_signer("other")) != id_of(req)
    unkeyed = hashlib.sha256(
        json.dumps(
            {
                "kind": "note",
                "dossiers": ["D-1", "D-2"],
                "officers": [],
                "note": "revu en comité",
                "deactivate": None,
                "day": today.isoformat(),
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:20]
    assert id_of(req) != f"note-{unkeyed}"
    given = BatchRequest(BatchKind.NOTE, [], DIRECTOR, batch_id="Lot-7")
    assert id_of(given) == "lot-7"
    with pytest.raises(ParcoursError):
        id_of(BatchRequest(BatchKind.NOTE, [], DIRECTOR, batch_id="Amina Diallo"))
    with pytest.raises(ParcoursError):
        bulk_request(BatchKind.REASSIGN, ["D-1"], DIRECTOR, officers=[])
    assert bulk_request(BatchKind.NOTE, ["d-1", "D-1"], DIRECTOR, note=" x ").dossiers == ["D-1"]


async def test_a_departure_is_checked_and_without_cases_deactivates_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await cases(sessions)
    async with sessions() as session, session.begin():
        # Directors only; a choice is required while cases are held; a target of the region.
        with pytest.raises(ParcoursError) as refused:
            await departure(session, SUPERVISOR, "atremblay", redistribute=True)
        assert refused.value.refusal is not None
        assert refused.value.refusal.code == "roster_directors_only"
        # Nobody deactivates themselves, from the console or the CLI: another director does.
        with pytest.raises(ParcoursError) as refused:
            await departure(session, DIRECTOR, DIRECTOR.officer_id)
        assert refused.value.refusal is not None
        assert refused.value.refusal.code == "roster_self_deactivate"
        with pytest.raises(ParcoursError) as refused:
            await departure(session, DIRECTOR, "atremblay")
        assert refused.value.refusal is not None
        assert refused.value.refusal.code == "departure_choice"
        with pytest.raises(ParcoursError):
            await departure(session, DIRECTOR, "atremblay", to="jgagnon")
        with pytest.raises(ParcoursError):
            await departure(session, DIRECTOR, "atremblay", to="atremblay")
        req = await departure(session, DIRECTOR, "atremblay", to="crodriguez")
        assert req is not None
        assert (req.kind, req.dossiers, req.officers, req.deactivate) == (
            BatchKind.REASSIGN,
            ["D-1", "D-2"],
            ["crodriguez"],
            "atremblay",
        )
        spread = await departure(session, DIRECTOR, "atremblay", redistribute=True)
        assert spread is not None and spread.kind == BatchKind.SPREAD and not spread.officers
        # No open case: deactivated at once, audited.
        assert await departure(session, DIRECTOR, "yhaddad", redistribute=True) is None
        with pytest.raises(OfficerError):
            await deactivate_officer(session, "atremblay", actor="hcote")
    async with sessions() as session:
        yhaddad = await get_officer(session, "yhaddad")
        assert yhaddad is not None and not yhaddad.active
        changes = await roster_changes(session, "yhaddad")
    assert [(c.change, c.actor) for c in changes][-1] == ("deactivated", "hcote")


async def test_the_roster_a_batch_reads_and_its_departures_last_check(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await cases(sessions)
    async with sessions() as session, session.begin():
        await set_leave(session, "yhaddad", date(2000, 1, 1), date(2999, 1, 1))
    work = BatchWork(sessions, None)
    snap = await work.batch_roster(RosterLookup(regions=["montreal"], officers=["jgagnon"]))
    by = {e.id: e for e in snap.officers}
    # Officers of the region (no supervisor) and the named one, with caseloads and presence.
    assert sorted(by) == ["atremblay", "crodriguez", "jgagnon", "yhaddad"]
    assert (by["atremblay"].open_cases, by["crodriguez"].open_cases) == (2, 1)
    assert by["yhaddad"].active and not by["yhaddad"].available
    assert by["crodriguez"].languages == ["fr", "es"]
    # Without a Temporal client, the unsigned path: no verifier refuses every batch.
    request = BatchRequest(BatchKind.NOTE, ["D-1"], DIRECTOR, batch_id="x")
    verdict = await work.check_batch(BatchCheck("batch-x", request, datetime.now(UTC)))
    assert verdict.refusal is not None and verdict.refusal.code == "signature_unchecked"


def test_an_actor_without_a_region_scope_is_refused_bulk_early() -> None:
    check_bulk(SUPERVISOR, None)
    check_bulk(SUPERVISOR, "montreal")
    check_bulk(DIRECTOR, "capitale-nationale")
    for actor, region in (
        (SUPERVISOR, "capitale-nationale"),
        (Actor("atremblay", Role.OFFICER, "montreal"), "montreal"),
        (Actor("nbouchard", Role.SUPERVISOR, "montreal", active=False), None),
    ):
        with pytest.raises(ParcoursError):
            check_bulk(actor, region)


@pytest.mark.parametrize("sc", list(Scope))
def test_the_bulk_commands_early_check_walks_the_programme_table(sc: Scope) -> None:
    """`parcours bulk` (and the console's bulk form) refuse early exactly where the table's
    `bulk` row does, for a region's cases; never more permissive."""
    actor = PROGRAMME_ACTORS[sc]
    try:
        check_bulk(actor, REGION)
        passed = True
    except ParcoursError:
        passed = False
    assert passed == (sc in PROGRAMME_ALLOWED[ProgrammeAction.BULK])


@pytest.mark.parametrize("sc", list(Scope))
async def test_a_departure_walks_the_roster_row(
    sc: Scope, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """`parcours officers deactivate` (and the console's) by the table's `roster` row."""
    await cases(sessions)
    actor = PROGRAMME_ACTORS[sc]
    async with sessions() as session, session.begin():
        try:
            await departure(session, actor, "yhaddad", redistribute=True)
            passed = True
        except ParcoursError:
            passed = False
    assert passed == (sc in PROGRAMME_ALLOWED[ProgrammeAction.ROSTER])
    async with sessions() as session:
        officer = await get_officer(session, "yhaddad")
    assert officer is not None and officer.active == (not passed)


def test_a_progress_narrowed_to_what_a_reader_may_see_counts_only_that() -> None:
    results = [
        CaseResult("D-1", CaseOutcome.DONE),
        CaseResult("D-2", CaseOutcome.ALREADY),
        CaseResult("Q-1", CaseOutcome.REFUSED),
        CaseResult("Q-2", CaseOutcome.FAILED),
        CaseResult("D-3", CaseOutcome.PENDING),
    ]
    whole = BatchProgress("b", BatchKind.NOTE, total=5, done=2, refused=1, failed=1,
                          results=results, still_held=2)  # fmt: skip
    mine = whole.only({"D-1", "D-2", "D-3"})
    assert (mine.total, mine.done, mine.refused, mine.failed, mine.handled) == (3, 2, 0, 0, 2)
    assert [r.dossier for r in mine.results] == ["D-1", "D-2", "D-3"]
    assert mine.still_held == 0  # the departure's remainder may be another region's
    assert whole.only({"D-1", "D-2", "D-3", "Q-1", "Q-2"}).still_held == 2
    assert whole.total == 5 and len(whole.results) == 5  # the original is left alone


class _SentUpdates:
    """A Temporal client that records the updates a batch sends (the case's validator is
    tested with the workflow; here: with which authority the batch acts)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, object]] = []

    def get_workflow_handle(self, workflow_id: str) -> _SentUpdates.Handle:
        return _SentUpdates.Handle(self, workflow_id)

    class Handle:
        def __init__(self, client: _SentUpdates, workflow_id: str) -> None:
            self.client, self.workflow_id = client, workflow_id

        async def execute_update(self, update: str, arg: object, **_: object) -> None:
            self.client.sent.append((self.workflow_id, update, arg))


async def test_a_batch_acts_only_while_its_actor_is_who_signed_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessions, *ROSTER)
    client = _SentUpdates()
    work = BatchWork(sessions, None, client)  # type: ignore[arg-type]
    supervisor = Actor("nbouchard", Role.SUPERVISOR, "montreal")
    target = Actor("crodriguez", Role.OFFICER, "montreal")

    async def act(dossier: str, actor: Actor = supervisor) -> CaseActionResult:
        return await work.batch_act(
            CaseAction("b1", dossier, BatchKind.REASSIGN, actor, target=target)
        )

    assert (await act("D-1")).outcome == CaseOutcome.DONE
    sent = client.sent[-1][2]
    assert isinstance(sent, Reassignment) and sent.actor == supervisor
    # Promoted to director while their batch runs: the batch does not gain the other
    # regions' cases of its list; moved to another region or deactivated: it acts no more.
    for change in ({"role": "director"}, {"region": "laval"}):
        async with sessions() as session, session.begin():
            await update_officer(session, "nbouchard", actor="hcote", **change)
        refused = await act("D-2")
        assert refused.outcome == CaseOutcome.REFUSED and refused.refusal is not None
        assert refused.refusal.code == "batch_actor_changed"
        async with sessions() as session, session.begin():
            await update_officer(session, "nbouchard", role="supervisor", region="montreal",
                                 actor="hcote")  # fmt: skip
    async with sessions() as session, session.begin():
        await deactivate_officer(session, "nbouchard", actor="hcote")
    assert (await act("D-2")).outcome == CaseOutcome.REFUSED
    assert (await act("D-2", Actor("ghost", Role.DIRECTOR, None))).outcome == CaseOutcome.REFUSED
    assert len(client.sent) == 1  # nothing sent in their name since

    # The target as the roster has them now: moved away, the case's validator refuses it.
    async with sessions() as session, session.begin():
        await update_officer(session, "crodriguez", region="laval", actor="hcote")
    director = Actor("hcote", Role.DIRECTOR, "capitale-nationale")
    assert (await act("D-3", director)).outcome == CaseOutcome.DONE
    sent = client.sent[-1][2]
    assert isinstance(sent, Reassignment) and sent.new_officer.region == "laval"


async def test_a_departure_deactivates_only_in_the_name_of_a_director_still_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessions, *ROSTER)
    work = BatchWork(sessions, None, _SentUpdates())  # type: ignore[arg-type]
    director = Actor("hcote", Role.DIRECTOR, "capitale-nationale")
    check = DepartureCheck("b1", "yhaddad", director)  # holds no open case
    async with sessions() as session, session.begin():
        await update_officer(session, "hcote", role="supervisor", actor="hcote")
    assert not (await work.batch_departure(check)).deactivated
    async with sessions() as session:
        officer = await get_officer(session, "yhaddad")
        assert officer is not None and officer.active
    async with sessions() as session, session.begin():
        await update_officer(session, "hcote", role="director", actor="hcote")
    assert (await work.batch_departure(check)).deactivated
