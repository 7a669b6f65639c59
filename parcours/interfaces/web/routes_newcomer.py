"""The newcomer's own page, `/n/<token>`: no account, their personal link is the key.

The welcome email carries the link (infrastructure/newcomer_links.py). The page shows only the
first name and the dossier number, in French with the newcomer's language beside it during
the six months after arrival (the emails' rule), and offers three answers: "I will use the
service", "I do not want the service" (a reason, optional), "Contact me later" (a day). Each is
one signed `newcomer_reply` update on the case, which the workflow records as the newcomer's
own act; the form offers only what its validator would accept now.

An expired or tampered link gets a clear page (410, 404) and changes nothing. Throttled like
the sign-in (security log rows, so every web process counts the same ones): refused tokens
from one address, and answers through one link, each lock for the sign-in window once they
reach the sign-in limits (per address, per login).
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from parcours.infrastructure.catalog import EMAIL_LANGUAGES, Catalog, catalog
from parcours.infrastructure.mail.language import FRENCH, within_grace_period
from parcours.infrastructure.newcomer_links import Link, LinkExpired, LinkRefused, NewcomerLinks
from parcours.infrastructure.store.security import SecurityKind, recent_events, record
from parcours.infrastructure.temporal import case_file, update_case
from parcours.interfaces.web import throttle
from parcours.interfaces.web.auth import check_csrf, client_address
from parcours.interfaces.web.i18n import Translator
from parcours.interfaces.web.render import render
from parcours.interfaces.web.state import StateDep, WebState
from parcours.kernel import inputs, rules
from parcours.kernel.domain import (
    CLOSED_STATUSES,
    CaseFile,
    NewcomerReply,
    ReplyChoice,
    dossier_of,
)
from parcours.kernel.errors import CaseNotFound, ParcoursError, TemporalUnavailable, UpdateRejected
from parcours.kernel.messages import Message

router = APIRouter()

TEMPLATE = "newcomer.html"
CHOICES = tuple(c.value for c in ReplyChoice)
# What infrastructure/temporal.py says of an update sent to a case whose run has ended.
CLOSED_REFUSAL = "case_completed"


def _links(request: Request, state: WebState) -> NewcomerLinks:
    """The app's link reader, made once from the signing keys."""
    links: NewcomerLinks | None = getattr(request.app.state, "newcomer_links", None)
    if links is None:
        links = NewcomerLinks.from_settings(state.settings)
        if links is None:  # `parcours web` refuses to start without signing keys
            raise HTTPException(status_code=503, detail="error.unavailable_text")
        request.app.state.newcomer_links = links
    return links


def _other(language: str, arrival_date: str | None, now: datetime) -> Catalog | None:
    """The newcomer's language beside the French: not French, one the catalogue speaks to
    newcomers, and within six months of arrival (the emails' rule)."""
    lang = (language or FRENCH).lower()
    if lang == FRENCH or lang not in EMAIL_LANGUAGES or not within_grace_period(arrival_date, now):
        return None
    words = catalog(lang)
    return words if words.lang == lang and words.has("newcomer.title") else None


def _page(
    request: Request,
    state: WebState,
    status_code: int = 200,
    *,
    found: CaseFile | None = None,
    **context: Any,
) -> Response:
    now = state.clock()
    french = Translator(FRENCH, found.view.time_zone if found else None)
    other = None
    if found is not None:
        approval = found.state.approval
        other = _other(approval.language, approval.arrival_date, now)
        context |= {
            "first_name": (approval.full_name.split() or [""])[0],
            "dossier": approval.dossier,
            "status": found.state.status.value,
            "waiting_on": found.state.waiting_on,
            "waiting_day": date.fromisoformat(found.state.waiting_on)
            if found.state.waiting_on
            else None,
            "offers": _offers(found, now),
            "closed": found.state.status in CLOSED_STATUSES,
        }
    ctx = {"t": french, "o": other, "today": now.date().isoformat(), **context}
    headers = {"Retry-After": str(context["wait"])} if context.get("wait") else None
    return render(request, TEMPLATE, ctx, status_code=status_code, headers=headers)


def _offers(found: CaseFile, now: datetime) -> list[str]:
    """The answers the workflow's validator would accept now ("later" with a day ahead)."""
    tomorrow = (now.astimezone(rules.case_zone(found.state)).date() + timedelta(days=1)).isoformat()
    offered = []
    for choice in ReplyChoice:
        probe = NewcomerReply(
            choice=choice, until=tomorrow if choice == ReplyChoice.LATER else None
        )
        try:
            rules.check_newcomer_reply(copy.deepcopy(found.state), probe, opened=True, now=now)
        except rules.Rejected:
            continue
        offered.append(choice.value)
    return offered


async def _locked(state: WebState, client: str, link_key: str | None) -> int:
    """Seconds before this address (refused tokens) or this link (answers) may go on."""
    limits = throttle.Limits.of(state.settings)
    now = state.clock()
    since = now - limits.window
    async with state.sessions() as session:
        refused = await recent_events(
            session, SecurityKind.NEWCOMER_LINK_REFUSED, since, client=client
        )
        replies = (
            await recent_events(session, SecurityKind.NEWCOMER_REPLY, since, login=link_key)
            if link_key
            else []
        )
    return max(
        throttle.wait_seconds(refused, limits.per_address, limits.window, now),
        throttle.wait_seconds(replies, limits.per_login, limits.window, now),
    )


async def _log(state: WebState, kind: str, client: str, link_key: str | None = None) -> None:
    async with state.sessions() as session, session.begin():
        await record(session, kind, state.clock(), login=link_key, client=client)


def _link_key(link: Link) -> str:
    return f"n:{dossier_of(link.workflow_id)}:{link.link_id}"[:64]


async def _open(request: Request, state: WebState, token: str) -> Link | Response:
    """The link behind `token`, or the page that says why not (and, for a bad token, one
    more refusal counted against the address)."""
    client = client_address(request)
    wait = await _locked(state, client, None)
    if wait:
        return _page(request, state, 429, locked=max(1, -(-wait // 60)), wait=wait)
    try:
        return _links(request, state).read(token)
    except LinkExpired:
        return _page(request, state, 410, problem="expired")
    except LinkRefused:
        await _log(state, SecurityKind.NEWCOMER_LINK_REFUSED, client)
        return _page(request, state, 404, problem="invalid")


async def _read(request: Request, state: WebState, link: Link) -> CaseFile | Response:
    try:
        return await case_file(await state.client(), state.settings, dossier_of(link.workflow_id))
    except CaseNotFound:
        return _page(request, state, 404, problem="invalid")
    except (TemporalUnavailable, ParcoursError):
        return _page(request, state, 503, problem="unavailable")


@router.get("/n/{token}", include_in_schema=False)
async def newcomer_page(
    request: Request, token: str, state: StateDep, done: str | None = None
) -> Response:
    link = await _open(request, state, token)
    if isinstance(link, Response):
        return link
    found = await _read(request, state, link)
    if isinstance(found, Response):
        return found
    return _page(request, state, found=found, token=token, done=done if done in CHOICES else None)


@router.post("/n/{token}", include_in_schema=False)
async def newcomer_answer(
    request: Request,
    token: str,
    state: StateDep,
    choice: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    link = await _open(request, state, token)
    if isinstance(link, Response):
        return link
    client = client_address(request)
    wait = await _locked(state, client, _link_key(link))
    if wait:
        return _page(request, state, 429, locked=max(1, -(-wait // 60)), wait=wait)
    found = await _read(request, state, link)
    if isinstance(found, Response):
        return found
    try:
        check_csrf(request, csrf)
    except HTTPException:
        return _page(request, state, 400, found=found, token=token, problem="stale")
    if choice not in CHOICES:
        return _page(request, state, 400, found=found, token=token, problem="choice")
    if found.state.status in CLOSED_STATUSES:
        # A closed case takes no answer (its run ends once its closing is recorded): the page
        # says it is closed and how to come back, nothing is sent.
        return _page(request, state, 409, found=found, token=token)
    await _log(state, SecurityKind.NEWCOMER_REPLY, client, _link_key(link))
    reply = NewcomerReply(
        choice=ReplyChoice(choice),
        until=_day(until) if choice == ReplyChoice.LATER.value else None,
        # Free text as every interface stores it: no terminal escapes or control characters.
        note=inputs.clean(note).strip() if choice == ReplyChoice.DECLINE.value else "",
        link_id=link.link_id,
    )
    dossier = dossier_of(link.workflow_id)
    try:
        await update_case(await state.client(), state.settings, dossier, "newcomer_reply", reply)
    except UpdateRejected as err:
        refused = err.refusal or Message.of("query_failed", reason="")
        return _page(
            request, state, 409, found=found, token=token, refused=refused, note=note, until=until
        )
    except ParcoursError as err:
        if err.refusal is not None and err.refusal.code == CLOSED_REFUSAL:
            # Closed meanwhile: said so, not "try again later".
            return _page(request, state, 409, found=found, token=token, refused=err.refusal)
        return _page(request, state, 503, found=found, token=token, problem="unavailable")
    return RedirectResponse(f"/n/{token}?done={choice}", status_code=303)


def _day(value: str) -> str:
    """The day as typed, if it is one (the validator says whether it may be); "" otherwise,
    which the validator refuses as no day."""
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return ""
