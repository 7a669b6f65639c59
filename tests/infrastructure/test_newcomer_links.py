"""The newcomer's personal link (infrastructure/newcomer_links.py): signed, expiring, of one
purpose, and the same link every time its email is composed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from parcours.infrastructure.codec import CodecKey
from parcours.infrastructure.newcomer_links import (
    SALT,
    LinkExpired,
    LinkRefused,
    NewcomerLinks,
    link_id_of,
)
from parcours.kernel.domain import Audience, Notification

KEY = CodecKey("k1", bytes(range(32)))
NEW_KEY = CodecKey("k2", bytes(range(1, 33)))
WF = "newcomer-D-2026-0001"


def welcome(decided_at: datetime) -> Notification:
    return Notification(
        key=f"{WF}:000002:mail-welcome",
        workflow_id=WF,
        template="welcome",
        audience=Audience.NEWCOMER,
        region="montreal",
        decided_at=decided_at,
    )


def test_a_link_reads_back_and_every_composition_gives_the_same() -> None:
    links = NewcomerLinks([KEY], days=60)
    at = datetime.now(UTC) - timedelta(days=3)
    url = links.for_notification(welcome(at), "https://parcours.example/")
    assert url == links.for_notification(welcome(at), "https://parcours.example")
    assert url.startswith("https://parcours.example/n/")
    token = url.rsplit("/", 1)[1]
    link = links.read(token)
    assert (link.workflow_id, link.link_id) == (WF, link_id_of(welcome(at))) == (WF, "000002")
    # No personal data in it: the payload is the workflow id and the link id.
    assert "Amina" not in token and "@" not in token
    # A rotated ring (new key first, old kept) still reads the links already sent.
    assert NewcomerLinks([NEW_KEY, KEY], days=60).read(token).workflow_id == WF


def test_tampered_expired_foreign_and_wrong_purpose_tokens_are_refused() -> None:
    links = NewcomerLinks([KEY], days=60)
    token = links.mint(WF, "000002", datetime.now(UTC))
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    payload, _, sig = token.partition(".")
    for bad in (tampered, token.replace(payload, payload[::-1], 1), "", "x" * 600, sig):
        with pytest.raises(LinkRefused):
            links.read(bad)
    with pytest.raises(LinkExpired):
        links.read(links.mint(WF, "000002", datetime.now(UTC) - timedelta(days=61)))
    assert links.read(links.mint(WF, "000002", datetime.now(UTC) - timedelta(days=59)))
    # Another key, or the same key under another purpose (salt): not a link.
    with pytest.raises(LinkRefused):
        NewcomerLinks([NEW_KEY], days=60).read(token)
    other_purpose = URLSafeTimedSerializer([KEY.secret], salt="parcours-signin-csrf")
    with pytest.raises(LinkRefused):
        links.read(other_purpose.dumps({"w": WF, "l": "000002"}))
    # The right salt and key but a payload that is not a case's: refused too.
    ours = URLSafeTimedSerializer([KEY.secret], salt=SALT)
    for payload_value in ({"w": "other-1", "l": "1"}, ["w"], {"w": WF}):
        with pytest.raises(LinkRefused):
            links.read(ours.dumps(payload_value))
