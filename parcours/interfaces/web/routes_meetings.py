"""The case page's first-meeting form (issue 16): book, move or cancel the meeting.

One workflow update, `book_meeting`, as the other case actions (routes_cases.py): the form is
offered only when the validator would accept it (kernel/offers.py), the authorization table
refuses early, and the answer is a redirect to the case page with the outcome in the session
(Post/Redirect/Get). The time typed is a local time in the case's zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from parcours.infrastructure.store.accounts import Account
from parcours.infrastructure.store.officers import actor_of
from parcours.interfaces.web.auth import staff_account
from parcours.interfaces.web.routes_cases import act_on_case, send_update
from parcours.interfaces.web.state import StateDep
from parcours.kernel import inputs
from parcours.kernel.domain import CaseView, MeetingBooking
from parcours.kernel.timezones import zone

router = APIRouter(include_in_schema=False)
ACTION = "meeting"
UPDATE = "book_meeting"


def booking(form: FormData, account: Account, view: CaseView, now: datetime) -> MeetingBooking:
    """The update input of the submitted form; InvalidInput for a field that cannot be read."""
    assert account.officer is not None
    actor = actor_of(account.officer)
    if form.get("cancel"):
        return MeetingBooking(actor=actor, cancel=True)
    at = inputs.meeting_time(str(form.get("at") or ""), zone(view.region, view.time_zone), now)
    place = inputs.clean(str(form.get("place") or "")).strip()
    video = str(form.get("video_url") or "").strip()
    if video:
        video = inputs.video_url(video)
    if place:
        place = inputs.text(place, "place")
    return MeetingBooking(actor=actor, at=at, place=place, video_url=video)


@router.post("/cases/{dossier}/meeting")
async def meeting_action(
    request: Request,
    dossier: str,
    account: Annotated[Account, Depends(staff_account)],
    state: StateDep,
) -> Response:
    async def send(form: FormData, view: CaseView) -> None:
        arg = booking(form, account, view, state.clock().astimezone(UTC))
        await send_update(state, view, UPDATE, arg)

    return await act_on_case(request, state, account, dossier, ACTION, send)
