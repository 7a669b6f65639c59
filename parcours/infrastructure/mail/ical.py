"""The first meeting's invitation: an iCalendar file (RFC 5545, RFC 5546 iTIP) attached to
the newcomer's email (issue 16).

One event per case and period: its UID never changes, SEQUENCE goes up at each change, so a
calendar that took the first invitation replaces its event with the update, and removes it
on the CANCEL. Times are in the case's zone (America/Toronto for Eastern Quebec), with the
zone's VTIMEZONE in the file, so the newcomer's calendar shows the hour the officer set.

Made from the notification alone (its context, its decision time), so an email sent again
carries the same bytes. Built with the `icalendar` library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from parcours.infrastructure.catalog import catalog
from parcours.kernel.domain import Notification, dossier_of
from parcours.kernel.timezones import zone

# The emails that carry an invitation, and the iTIP method of each.
METHODS: Mapping[str, str] = {
    "meeting_booked": "REQUEST",
    "meeting_rescheduled": "REQUEST",
    "meeting_cancelled": "CANCEL",
}
DURATION = timedelta(hours=1)
FILENAME = "invitation.ics"
PRODID = "-//Parcours//Accompagnement des personnes immigrantes//FR"


@dataclass(frozen=True)
class Attachment:
    """One file attached to an email."""

    filename: str
    content_type: str  # with its parameters: 'text/calendar; method=REQUEST'
    data: bytes


def invitation(n: Notification, *, organizer: str, attendee: str | None) -> Attachment | None:
    """The .ics of a meeting email; None for any other email (or one whose context holds no
    meeting: a notification rebuilt from an outbox row by the sweep)."""
    method = METHODS.get(n.template)
    ctx: Mapping[str, Any] = n.context
    if method is None or not ctx.get("uid") or not ctx.get("at"):
        return None
    return Attachment(
        FILENAME,
        f"text/calendar; method={method}",
        calendar(n, method=method, organizer=organizer, attendee=attendee),
    )


def calendar(n: Notification, *, method: str, organizer: str, attendee: str | None) -> bytes:
    from icalendar import Calendar, Event, vCalAddress

    ctx = n.context
    tz = zone(n.region, n.time_zone)
    start = datetime.fromisoformat(str(ctx["at"])).astimezone(tz)
    words = catalog("fr")
    dossier = dossier_of(n.workflow_id)
    place = str(ctx.get("place") or "")
    video = str(ctx.get("video_url") or "")

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    event = Event()
    event.add("uid", str(ctx["uid"]))
    event.add("sequence", int(ctx.get("sequence") or 0))
    # When the change was decided (the workflow's time): the same on every send.
    stamp = n.decided_at or start
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", start + DURATION)
    event.add("summary", words("email.meeting.ics_summary", dossier=dossier))
    description = [words("email.meeting.ics_description", dossier=dossier)]
    if video:
        description.append(video)
        event.add("url", video)
    event.add("description", "\n".join(description))
    if place or video:
        event.add("location", place or video)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    who = vCalAddress(f"mailto:{organizer}")
    who.params["cn"] = words("email.signature.team")
    event.add("organizer", who)
    if attendee:
        guest = vCalAddress(f"mailto:{attendee}")
        guest.params["role"] = "REQ-PARTICIPANT"
        guest.params["rsvp"] = "FALSE"
        event.add("attendee", guest)
    cal.add_component(event)
    # The zone's definition (VTIMEZONE) for the TZID the times name.
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data
