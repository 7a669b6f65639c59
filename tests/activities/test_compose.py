"""The email as written on the wire: what a mail reader decodes from it is what the `email`
package would have written (headers, bodies, MIME types), and it is 7-bit clean."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import cast

import pytest
from aiosmtplib.email import flatten_message

from parcours.infrastructure.mail.smtp import Mailer, message_id_for
from parcours.kernel.domain import Audience
from tests.activities.test_render import (
    NEWCOMER_TEMPLATES,
    STAFF_CONTEXT,
    STAFF_TEMPLATES,
    notice,
)

HEADERS = ("From", "To", "Subject", "Message-ID", "Auto-Submitted", "Content-Language")
TO = ["ana@newcomer.example"]
MANY = [f"supervisor{i}@region{i}.example" for i in range(12)]
TEXTS = (
    "short ascii\n.a line that starts with a dot\nFrom the start of a line\n",
    "no final line break, é",
    "ᚠᛇᚻ᛫ᛒᛦᚦ᛫ᚠᚱᚩᚠᚢᚱ " * 30 + "\n",  # mostly outside Latin script: base64 is shorter
    "trailing spaces   \n\ttab first\n" + "x" * 300 + "\n",
)


def parse(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))


def assert_same(new: EmailMessage, old: EmailMessage) -> None:
    for header in HEADERS:
        assert str(new[header]) == str(old[header]), header
    assert new.get_content_type() == "multipart/alternative"
    for subtype in ("plain", "html"):
        a, b = new.get_body((subtype,)), old.get_body((subtype,))
        assert a is not None and b is not None
        assert a.get_content() == b.get_content()
        assert a.get_content_type() == b.get_content_type()
        assert a.get_content_charset() == b.get_content_charset() == "utf-8"
    assert not any(part.defects for part in new.walk())


def cases() -> list[tuple[str, Audience, str, dict]]:
    out = [
        (t, Audience.NEWCOMER, lang, c)
        for t, c in NEWCOMER_TEMPLATES.items()
        for lang in ("fr", "es")
    ]
    return out + [(t, Audience.SUPERVISORS, "es", STAFF_CONTEXT) for t in STAFF_TEMPLATES]


@pytest.mark.parametrize("mail_from", [Mailer().mail_from, "Immigration Québec <p@q.example>"])
@pytest.mark.parametrize("template,audience,language,context", cases())
def test_a_composed_email_reads_as_the_email_package_would_write_it(
    renderer, mail_from, template, audience, language, context
):
    mailer = Mailer(mail_from=mail_from)
    rendered = renderer.render(notice(template, audience, language, context), "Zoé Ñúñez")
    variants = [(TO, rendered.subject, rendered.text), (MANY, rendered.subject, rendered.text)]
    variants += [(TO, subject, rendered.text) for subject in ("ASCII only, long: " * 6, "x")]
    variants += [(TO, rendered.subject, text) for text in TEXTS]
    for to, subject, text in variants:
        out = mailer.compose(
            key="k-1",
            to=to,
            subject=subject,
            text=text,
            html=rendered.html,
            languages=rendered.languages,
        )
        assert out.message is None
        assert out.message_id == message_id_for("k-1", mailer.domain)
        assert out.data.isascii()
        assert max(len(line) for line in out.data.split(b"\r\n")) <= 998
        assert b"\n" not in out.data.replace(b"\r\n", b"")
        old = mailer._compose_with_email_package(
            to, subject, text, rendered.html, rendered.languages, out.message_id
        )
        assert_same(parse(out.data), parse(flatten_message(old)))


def test_a_resend_keeps_the_recorded_message_id():
    out = Mailer().compose(
        key="k-1", to=TO, subject="s", text="t", html="<p>h</p>", message_id="<recorded@x>"
    )
    assert out.message_id == "<recorded@x>" and parse(out.data)["Message-ID"] == "<recorded@x>"


def test_an_address_outside_ascii_goes_through_the_email_package():
    # Such an address needs SMTPUTF8, which aiosmtplib's send_message negotiates.
    out = Mailer().compose(key="k-1", to=["zoé@exemple.qc.ca"], subject="s", text="t", html="h")
    assert out.message is not None and out.data == b""
    assert out.message["To"] == "zoé@exemple.qc.ca"
