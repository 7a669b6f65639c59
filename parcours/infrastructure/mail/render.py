"""Render a Notification into a subject, a plain-text body and an HTML body.

Templates live in `templates/email/`: `<name>.<lang>.txt.j2` (first line `Subject: ...`,
then the body) and `<name>.<lang>.html.j2` (an HTML fragment, autoescaped, placed in
`_layout.html.j2`). French is always rendered; the newcomer's language is added after it
when the law allows (see parcours.infrastructure.mail.language).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from parcours.infrastructure.config import Settings
from parcours.infrastructure.mail.language import (
    FRENCH,
    airport_name,
    language_name,
    long_date,
    region_name,
    stage_name,
    within_grace_period,
)
from parcours.kernel.domain import Audience, Notification, dossier_of

TEXT_SEPARATOR = "\n\n" + "-" * 60 + "\n\n"
_WHITESPACE = re.compile(r"\s+")


class TemplateMissing(LookupError):
    """No French template of that name: a bug in the caller, not a passing failure."""


class TemplateInvalid(ValueError):
    """A template that renders but is not an email (no `Subject:` first line)."""


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str
    languages: tuple[str, ...] = (FRENCH,)


def _environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        # Escape every HTML template: names and notes come from people.
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        # A missing variable is a bug; better a failed (retried) send than a blank in a letter.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["longdate"] = long_date
    env.filters["region_name"] = region_name
    env.filters["airport_name"] = airport_name
    env.filters["stage_name"] = stage_name
    env.filters["language_name"] = language_name
    return env


class Renderer:
    def __init__(self, templates_dir: Path | str) -> None:
        self.templates_dir = Path(templates_dir)
        self.env = _environment(self.templates_dir)

    @classmethod
    def from_settings(cls, settings: Settings) -> Renderer:
        return cls(settings.templates_dir)

    def _name(self, template: str, lang: str, kind: str) -> str:
        return f"email/{template}.{lang}.{kind}.j2"

    def has(self, template: str, lang: str) -> bool:
        return all(
            (self.templates_dir / self._name(template, lang, kind)).is_file()
            for kind in ("txt", "html")
        )

    def languages_for(self, n: Notification) -> tuple[str, ...]:
        """French always; the newcomer's language beside it (after it) only for newcomers,
        only if we have the template, and only within six months of arrival."""
        if not self.has(n.template, FRENCH):
            raise TemplateMissing(f"no email template {n.template!r} in French")
        lang = (n.language or FRENCH).lower()
        if (
            n.audience == Audience.NEWCOMER
            and lang != FRENCH
            and self.has(n.template, lang)
            and within_grace_period(n.arrival_date, n.decided_at)
        ):
            return (FRENCH, lang)
        return (FRENCH,)

    def _context(self, n: Notification, recipient_name: str | None, lang: str) -> dict[str, Any]:
        base: dict[str, Any] = {
            "dossier": dossier_of(n.workflow_id),
            "region": n.region,
            "arrival_date": n.arrival_date,
            "officer_id": n.officer_id,
        }
        return {**base, **n.context, "recipient_name": recipient_name, "lang": lang}

    def _render_one(
        self, n: Notification, recipient_name: str | None, lang: str
    ) -> RenderedMessage:
        ctx = self._context(n, recipient_name, lang)
        raw = self.env.get_template(self._name(n.template, lang, "txt")).render(ctx)
        first, _, body = raw.lstrip().partition("\n")
        if not first.startswith("Subject:"):
            raise TemplateInvalid(
                f"{self._name(n.template, lang, 'txt')}: first line must be 'Subject: ...'"
            )
        subject = _WHITESPACE.sub(" ", first.removeprefix("Subject:")).strip()
        html = self.env.get_template(self._name(n.template, lang, "html")).render(
            {**ctx, "subject": subject}
        )
        return RenderedMessage(subject, body.strip() + "\n", html.strip(), (lang,))

    def render(self, n: Notification, recipient_name: str | None) -> RenderedMessage:
        languages = self.languages_for(n)
        parts = [self._render_one(n, recipient_name, lang) for lang in languages]
        subject = " / ".join(p.subject for p in parts)
        text = TEXT_SEPARATOR.join(p.text.rstrip() for p in parts) + "\n"
        # The fragments were autoescaped when rendered; mark them safe for the layout.
        sections = [{"lang": p.languages[0], "html": Markup(p.html)} for p in parts]
        html = self.env.get_template("email/_layout.html.j2").render(
            subject=subject, sections=sections, lang=FRENCH
        )
        return RenderedMessage(subject, text, html, languages)
