"""The first meeting end to end against a real `parcours dev` (issue 16): booked with the
CLI, moved with the console's form, cancelled with the CLI; the newcomer's mailbox holds the
invitation, its update and its cancellation, one event (UID) with a rising SEQUENCE."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from icalendar import Calendar

from tests.web.conftest import WebStack, approval, client, officer_of, post, start_cases, wait_for


def invitations(stack: WebStack, dossier: str) -> list[Any]:
    """The calendar events mailed about `dossier`, in arrival order."""
    found = []
    for path in sorted((stack.data_dir / "mail").glob("*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        if dossier not in str(msg["Subject"]):
            continue
        for part in msg.walk():
            if part.get_content_type() == "text/calendar":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                events: list[Any] = Calendar.from_ical(payload).walk("VEVENT")
                found.extend(events)
    return found


def test_a_meeting_booked_moved_and_cancelled_from_the_cli_and_the_console(
    web_stack: WebStack,
) -> None:
    dossier = f"MEET-{uuid.uuid4().hex[:8].upper()}"
    start_cases(web_stack, approval(dossier))
    officer = officer_of(web_stack, dossier)
    # Three weeks ahead: after the plan's due day (5 working days from arrival), so flagged.
    late = f"{date.today() + timedelta(days=21)}T10:00"
    done = web_stack.cli("meeting", dossier, "--at", late, "--place", "Bureau 301", "--by", officer)
    assert done.returncode == 0, done.stderr
    assert "Première rencontre\u00a0:" in done.stdout and "signalé" in done.stdout
    # Bad input: one French line, exit 1, nothing sent.
    bad = web_stack.cli("meeting", dossier, "--at", "demain", "--place", "x", "--by", officer)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "illisible" in bad.stderr

    with client(web_stack, officer) as c:
        page = c.get(f"/cases/{dossier}").text
        assert 'id="meeting-booked"' in page and "Bureau 301" in page
        assert 'id="meeting-late"' in page and 'id="form-meeting-cancel"' in page
        # Moved through the console, online, within the due days: no longer flagged.
        soon = f"{date.today() + timedelta(days=3)}T14:30"
        link = "https://rencontre.exemple.qc.ca/xyz"
        assert post(c, dossier, "meeting", at=soon, video_url=link).status_code == 303
        page = c.get(f"/cases/{dossier}").text
        assert 'id="action-ok"' in page and f'href="{link}"' in page
        assert 'id="meeting-late"' not in page
        # A time already past: refused, and what was typed is still in the form.
        assert post(c, dossier, "meeting", at="2020-01-06T10:00", place="Ici").status_code == 303
        page = c.get(f"/cases/{dossier}").text
        assert 'id="action-error"' in page and 'value="Ici"' in page

    cancelled = web_stack.cli("meeting", dossier, "--cancel", "--by", officer, "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    meeting = json.loads(cancelled.stdout)["meeting"]
    assert meeting["cancelled"] is True and meeting["sequence"] == 2

    wait_for(lambda: len(invitations(web_stack, dossier)) == 3)
    events = invitations(web_stack, dossier)
    assert len({str(e["UID"]) for e in events}) == 1
    assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2]
    assert [str(e["STATUS"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert all(e["DTSTART"].params["TZID"] == "America/Toronto" for e in events)
    assert events[1]["DTSTART"].dt.strftime("%H:%M") == "14:30"
