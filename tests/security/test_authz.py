"""The authorization table (kernel/authz.py) as pure functions, and the README's copy of it."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcours.infrastructure.catalog import catalog
from parcours.kernel import authz
from parcours.kernel.authz import ALLOWED, Action, Relation, decide, early_refusal, relation
from parcours.kernel.domain import REGIONS, Actor, ProgressNote, Reassignment, Role, Transfer

README = Path(__file__).resolve().parents[2] / "README.md"
REGION = "montreal"
ASSIGNED = "off-mtl-1"

# One actor per column, for a case of montreal assigned to off-mtl-1.
ACTORS = {
    Relation.ASSIGNED_OFFICER: Actor(ASSIGNED, Role.OFFICER, REGION),
    Relation.REGION_OFFICER: Actor("off-mtl-2", Role.OFFICER, REGION),
    Relation.OTHER_REGION_OFFICER: Actor("off-qc-1", Role.OFFICER, "capitale-nationale"),
    Relation.REGION_SUPERVISOR: Actor("sup-mtl", Role.SUPERVISOR, REGION),
    Relation.OTHER_REGION_SUPERVISOR: Actor("sup-qc", Role.SUPERVISOR, "capitale-nationale"),
    Relation.DIRECTOR: Actor("dir-1", Role.DIRECTOR, None),
    Relation.INACTIVE: Actor("sup-old", Role.SUPERVISOR, REGION, active=False),
}


def readme_table() -> str:
    text = README.read_text()
    section = text.split("### Who may act", 1)[1]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    # The first table after the heading, up to its first non-table line.
    start = section.index(lines[0])
    block = section[start:].split("\n\n", 1)[0]
    return block.strip()


def test_the_readme_shows_the_table_the_code_applies() -> None:
    assert "## Security model" in README.read_text()
    assert readme_table() == authz.markdown_table()


def test_the_readme_check_can_fail() -> None:
    # A different answer in one cell is a different table.
    flipped = authz.markdown_table().replace("| pause | no |", "| pause | yes |", 1)
    assert flipped != authz.markdown_table()


def test_every_relation_is_recognised() -> None:
    for rel, actor in ACTORS.items():
        assert relation(actor, REGION, ASSIGNED) == rel


@pytest.mark.parametrize(("action", "rel"), list(itertools.product(Action, Relation)))
def test_each_cell(action: Action, rel: Relation) -> None:
    refused = decide(action, ACTORS[rel], REGION, ASSIGNED)
    assert (refused is None) == (rel in ALLOWED[action])
    if refused is not None:
        # Every refusal can be worded in both languages.
        assert catalog("fr").has(refused.key) and catalog("en").has(refused.key)


def test_the_rules_the_mission_names() -> None:
    allowed = {a: {r for r in Relation if r in ALLOWED[a]} for a in Action}
    trio = {Relation.ASSIGNED_OFFICER, Relation.REGION_SUPERVISOR, Relation.DIRECTOR}
    oversight = {Relation.REGION_SUPERVISOR, Relation.DIRECTOR}
    assert allowed[Action.WITHDRAW] == trio
    assert allowed[Action.PAUSE] == allowed[Action.RESUME] == oversight
    assert allowed[Action.TRANSFER] == {Relation.DIRECTOR}
    assert allowed[Action.READ] == trio
    assert all(Relation.INACTIVE not in v for v in allowed.values())


def test_refusal_words_keep_the_workflow_sentences() -> None:
    officer = ACTORS[Relation.REGION_OFFICER]
    en = catalog("en")
    assert en.message(decide(Action.PROGRESS, officer, REGION, ASSIGNED)) == (  # type: ignore[arg-type]
        "off-mtl-2 is neither the officer assigned to this case nor a supervisor of region montreal"
    )
    assert en.message(decide(Action.PAUSE, officer, REGION, ASSIGNED)) == (  # type: ignore[arg-type]
        "off-mtl-2 is not a supervisor of region montreal nor a director"
    )
    assert decide(Action.PROGRESS, officer, REGION, None).code == "no_officer"  # type: ignore[union-attr]
    assert "n'est pas directeur" in catalog("fr").message(
        decide(Action.TRANSFER, ACTORS[Relation.REGION_SUPERVISOR], REGION, ASSIGNED)  # type: ignore[arg-type]
    )


def test_reassignment_stays_in_the_region() -> None:
    sup = ACTORS[Relation.REGION_SUPERVISOR]
    qc = Actor("off-qc-1", Role.OFFICER, "capitale-nationale")
    refused = early_refusal("reassign", Reassignment(sup, qc), REGION, ASSIGNED)
    assert refused is not None and refused.code == "target_other_region"
    gone = Actor("off-mtl-3", Role.OFFICER, REGION, active=False)
    refused = early_refusal("reassign", Reassignment(sup, gone), REGION, ASSIGNED)
    assert refused is not None and refused.code == "target_inactive"
    ok = Actor("off-mtl-3", Role.OFFICER, REGION)
    assert early_refusal("reassign", Reassignment(sup, ok), REGION, ASSIGNED) is None


def test_transfer_goes_to_an_officer_of_the_new_region() -> None:
    director = ACTORS[Relation.DIRECTOR]
    qc = Actor("off-qc-1", Role.OFFICER, "capitale-nationale")
    assert (
        early_refusal("transfer", Transfer(director, "capitale-nationale", qc), REGION, None)
        is None
    )
    gone = Actor("x", region="capitale-nationale", active=False)
    for new_region, officer, expected in [
        (REGION, qc, "same_region"),
        ("atlantis", qc, "unknown_region"),
        ("estrie", qc, "target_other_region"),
        ("capitale-nationale", gone, "target_inactive"),
    ]:
        refused = early_refusal("transfer", Transfer(director, new_region, officer), REGION, None)
        assert refused is not None and refused.code == expected


actors = st.builds(
    Actor,
    officer_id=st.sampled_from(["a", "b", "c"]),
    role=st.sampled_from(list(Role)),
    region=st.one_of(st.none(), st.sampled_from(REGIONS[:3])),
    active=st.booleans(),
)


@given(
    action=st.sampled_from([a for a in Action if a in authz.UPDATE_OF]),
    actor=actors,
    region=st.sampled_from(REGIONS[:3]),
    officer=st.one_of(st.none(), st.sampled_from(["a", "b"])),
)
def test_interfaces_never_grant_more_than_the_workflow(
    action: Action, actor: Actor, region: str, officer: str | None
) -> None:
    """The early check refuses whatever the table refuses, except "no officer yet" (which the
    workflow answers itself, and the interfaces wait out while a case opens)."""
    arg: object = ProgressNote(actor, "x")  # only the actor matters to the table
    if action == Action.TRANSFER:
        arg = Transfer(actor, "estrie", Actor("e", region="estrie"))
    if action == Action.REASSIGN:
        arg = Reassignment(actor, Actor("z", region=region))
    early = early_refusal(authz.UPDATE_OF[action], arg, region, officer)
    table = decide(action, actor, region, officer)
    if table is not None and table.code != "no_officer":
        assert early is not None and early.code == table.code
    if early is None:
        assert table is None or table.code == "no_officer"


def test_markdown_table_has_every_action_and_relation() -> None:
    table = authz.markdown_table()
    for a in Action:
        assert re.search(rf"^\| {a.value} \|", table, re.M)
    for r in Relation:
        assert r.value in table.splitlines()[0]


def test_the_readme_shows_the_programme_table() -> None:
    section = README.read_text().split("**The programme's actions**", 1)[1]
    block = "\n".join(
        ln.strip() for ln in section.split("\n\n", 2)[1].splitlines() if ln.strip().startswith("|")
    )
    assert block == authz.programme_markdown_table()


PROGRAMME_ACTORS = {
    authz.Scope.OFFICER: Actor("off-mtl-1", Role.OFFICER, REGION),
    authz.Scope.REGION_SUPERVISOR: Actor("sup-mtl", Role.SUPERVISOR, REGION),
    authz.Scope.OTHER_REGION_SUPERVISOR: Actor("sup-qc", Role.SUPERVISOR, "capitale-nationale"),
    authz.Scope.DIRECTOR: Actor("dir-1", Role.DIRECTOR, None),
    authz.Scope.INACTIVE: Actor("dir-old", Role.DIRECTOR, None, active=False),
}


@pytest.mark.parametrize(
    ("action", "sc"), list(itertools.product(authz.ProgrammeAction, authz.Scope))
)
def test_each_programme_cell(action: authz.ProgrammeAction, sc: authz.Scope) -> None:
    actor = PROGRAMME_ACTORS[sc]
    assert authz.scope(actor, REGION) == sc
    refused = authz.decide_programme(action, actor, REGION)
    assert (refused is None) == (sc in authz.PROGRAMME_ALLOWED[action])


def test_only_a_director_covers_every_region() -> None:
    for action in authz.ProgrammeAction:
        sup = PROGRAMME_ACTORS[authz.Scope.REGION_SUPERVISOR]
        assert authz.decide_programme(action, sup, None) is not None
        director = PROGRAMME_ACTORS[authz.Scope.DIRECTOR]
        assert authz.decide_programme(action, director, None) is None
