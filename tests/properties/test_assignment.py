"""The assignment rule of intake (issue 17) as a pure function: never an inactive officer nor
one on leave on the day, a speaker of the newcomer's language first, then the lowest open
caseload, ties to the smallest id."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from parcours.kernel.assignment import (
    Candidate,
    available,
    back_on,
    leave_problem,
    on_leave,
    pick,
)
from tests.properties.test_rules import FAST

DAY = date(2027, 3, 15)
LANGUAGES = ("fr", "en", "es", "ar")


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    ids = draw(st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=6))
    out = []
    for i in ids:
        leave = draw(st.none() | st.tuples(st.integers(-5, 5), st.integers(0, 5)))
        start = DAY + timedelta(days=leave[0]) if leave else None
        out.append(
            Candidate(
                id=i,
                languages=tuple(draw(st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=3))),
                open_cases=draw(st.integers(0, 4)),
                active=draw(st.booleans()),
                leave_from=start,
                leave_to=start + timedelta(days=leave[1]) if start and leave else None,
            )
        )
    return out


@FAST
@given(candidates(), st.sampled_from(LANGUAGES))
def test_the_rule_never_picks_an_absent_officer_and_prefers_language_then_caseload(
    pool: list[Candidate], language: str
) -> None:
    chosen = pick(pool, language, DAY)
    present = [c for c in pool if c.active and not on_leave(c.leave_from, c.leave_to, DAY)]
    if not present:
        assert chosen is None
        return
    winner = next(c for c in pool if c.id == chosen)
    assert available(winner, DAY)
    speakers = [c for c in present if language in c.languages]
    if speakers:
        assert language in winner.languages
    rivals = speakers or present
    assert all((winner.open_cases, winner.id) <= (c.open_cases, c.id) for c in rivals)


@FAST
@given(candidates(), st.sampled_from(LANGUAGES))
def test_a_leave_ends_by_itself_the_day_after_its_last(
    pool: list[Candidate], language: str
) -> None:
    # The day after every leave, the same pool chooses as if nobody had been on leave.
    after = max((c.leave_to for c in pool if c.leave_to), default=DAY) + timedelta(days=1)
    back = [Candidate(c.id, c.languages, c.open_cases, c.active) for c in pool]
    assert pick(pool, language, after) == pick(back, language, after)


def test_a_backup_is_active_someone_else_and_present_during_the_leave() -> None:
    start, end = DAY, DAY + timedelta(days=9)
    ok = Candidate("b")
    assert leave_problem(start, end, "a", None) is None
    assert leave_problem(start, end, "a", ok) is None
    assert leave_problem(end, start, "a", ok) == "leave_dates"
    assert leave_problem(start, end, "a", Candidate("a")) == "leave_backup_self"
    assert leave_problem(start, end, "a", Candidate("b", active=False)) == "leave_backup_inactive"
    overlapping = Candidate("b", leave_from=end, leave_to=end + timedelta(days=3))
    assert leave_problem(start, end, "a", overlapping) == "leave_backup_absent"
    before = Candidate("b", leave_from=start - timedelta(days=5), leave_to=start - timedelta(1))
    assert leave_problem(start, end, "a", before) is None


@FAST
@given(candidates(), st.sampled_from(LANGUAGES))
def test_a_case_nobody_can_take_asks_again_exactly_when_someone_is_back(
    pool: list[Candidate], language: str
) -> None:
    """Issue 17: an unassigned case waits for `back_on`. Nobody can take it on any day before
    that (the case loses nothing by sleeping), and on that day someone can."""
    if pick(pool, language, DAY) is not None:
        return
    back = back_on(pool, DAY)
    if back is None:
        # Nobody away: only a roster change can help (no timer), and no later day differs.
        assert all(pick(pool, language, DAY + timedelta(days=n)) is None for n in range(12))
        return
    assert back > DAY
    for n in range(1, (back - DAY).days):
        assert pick(pool, language, DAY + timedelta(days=n)) is None
    chosen = pick(pool, language, back)
    assert chosen is not None
    assert available(next(c for c in pool if c.id == chosen), back)


def test_back_on_ignores_inactive_officers_and_those_not_away() -> None:
    away = Candidate("a", leave_from=DAY - timedelta(days=1), leave_to=DAY + timedelta(days=2))
    later = Candidate("b", leave_from=DAY + timedelta(days=5), leave_to=DAY + timedelta(days=6))
    gone = Candidate("c", active=False, leave_from=DAY, leave_to=DAY)
    assert back_on([away, later, gone], DAY) == DAY + timedelta(days=3)
    assert back_on([later, gone], DAY) is None
    assert back_on([], DAY) is None


def test_language_is_a_preference_and_caseload_decides_among_speakers() -> None:
    pool = [
        Candidate("a", languages=("fr",), open_cases=0),
        Candidate("b", languages=("fr", "es"), open_cases=7),
        Candidate("c", languages=("fr", "es"), open_cases=3),
        Candidate("d", languages=("es",), open_cases=0, active=False),
        Candidate("e", languages=("es",), open_cases=0, leave_from=DAY, leave_to=DAY),
    ]
    assert pick(pool, "es", DAY) == "c"  # a speaker, the lightest present one
    assert pick(pool, "ar", DAY) == "a"  # nobody speaks it: any present officer
    assert pick(pool, "es", DAY + timedelta(days=1)) == "e"  # back from leave
