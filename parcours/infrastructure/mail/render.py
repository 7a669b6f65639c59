"""Render a Notification into a subject, a plain-text body and an HTML body.

Each email has two templates in `templates/email/`: `<name>.txt.j2` (first line
`Subject: ...`, then the body) and `<name>.html.j2` (an HTML fragment, autoescaped, placed in
`_layout.html.j2`). They hold no words: every sentence is `"email.<name>.<part>" | t(...)`,
from the catalogue (parcours/infrastructure/catalog.py), so one template serves every language,
and an email exists in a language when the catalogue has its subject there. French is always
rendered; the newcomer's language is added after it when the law allows (see
parcours.infrastructure.mail.language).

Dates are the catalogue's (Babel's), in the case's time zone. Staff emails link to the case in
the console (`public_url`), never to a command.

Composing is on the worker's hot path (two emails a case at intake): the templates are
compiled once, when the renderer is built, and never looked up on disk again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from parcours.infrastructure.catalog import Catalog, catalog
from parcours.infrastructure.config import DEFAULT_PUBLIC_URL, Settings
from parcours.infrastructure.mail.language import (
    FRENCH,
    airport_name,
    region_name,
    within_grace_period,
)
from parcours.kernel.domain import Audience, Notification, dossier_of
from parcours.kernel.timezones import zone

TEXT_SEPARATOR = "\n\n" + "-" * 60 + "\n\n"
# Line breaks and runs of spaces, not the non-breaking spaces of French typography.
_WHITESPACE = re.compile(r"[ \t\r\n]+")
LAYOUT = "_layout.html.j2"
KINDS = ("txt", "html")

Clock = Callable[[], datetime]


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


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _environment(templates_dir: Path, *, html: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir / "email")),
        # Escape every HTML template: names and notes come from people.
        autoescape=html,
        # A missing variable is a bug; better a failed (retried) send than a blank in a letter.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Compiled once below; a deployment that changes templates restarts the worker.
        auto_reload=False,
    )
    # The words are filters (`"email.welcome.how" | t`), not functions: Jinja calls a filter
    # directly, a function through the context's checks, which cost several times as much
    # on every sentence of every email. Those that depend on the language take its own
    # implementation from the render's context.
    for name in LANGUAGE_FILTERS:
        env.filters[name] = _language_filter(name)
    env.filters.update(
        region_name=region_name,
        airport_name=airport_name,
        upper_first=_upper_first,
        strong=_strong,
        link=_link,
    )
    return env


LANGUAGE_FILTERS = (
    "t",
    "long_date",
    "date_time",
    "stage_name",
    "days",
    "language_name",
    "has",
    "plural",
)


def _language_filter(name: str) -> Callable[..., Any]:
    key = "_" + name

    @pass_context
    def apply(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        return context[key](value, *args, **kwargs)

    return apply


def _compile(env: Environment, suffix: str) -> dict[str, Template]:
    return {
        name.removesuffix(suffix): env.get_template(name)
        for name in env.list_templates()
        if name.endswith(suffix) and not name.startswith("_")
    }


def _html_words(words: Catalog) -> Callable[..., Markup]:
    """`t` for HTML: the catalogue's text escaped, then its fields filled with escaped values
    (a value that is already Markup, like `strong(date)`, is kept as it is). Plain
    `str.format` on escaped pieces: Markup's own `format` costs several times as much."""
    escaped: dict[str, str] = {}

    def t(key: str, /, **params: Any) -> Markup:
        text = escaped.get(key)
        if text is None:
            text = escaped[key] = str(escape(words(key)))
        if not params:
            return Markup(text)
        return Markup(text.format(**{k: escape(v) for k, v in params.items()}))

    return t


def _strong(value: object) -> Markup:
    return Markup(f"<strong>{escape(value)}</strong>")


def _link(text: object, url: str) -> Markup:
    return Markup(f'<a href="{escape(url)}">{escape(text)}</a>')


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


@cache
def _language_names(locale: str) -> Mapping[str, str]:
    from babel import Locale

    names: Mapping[str, str] = Locale.parse(locale).languages
    return names


def _as_moment(value: str | date | datetime | None) -> date | datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    return value


class Renderer:
    def __init__(
        self,
        templates_dir: Path | str,
        *,
        public_url: str = DEFAULT_PUBLIC_URL,
        clock: Clock = _utc_now,
        strict: bool = False,
    ) -> None:
        self.templates_dir = Path(templates_dir)
        self.public_url = public_url.rstrip("/")
        # When an email is composed: decides whether the welcome's arrival date has passed.
        self.clock = clock
        # strict (tests): a key missing in a language raises instead of showing the key.
        self.strict = strict
        self._text = _compile(_environment(self.templates_dir, html=False), ".txt.j2")
        html_env = _environment(self.templates_dir, html=True)
        self._html = _compile(html_env, ".html.j2")
        self._layout = html_env.get_template(LAYOUT)
        self._strict_words: dict[str, Catalog] = {}
        self._html_t: dict[str, Callable[..., Markup]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Renderer:
        return cls(settings.templates_dir, public_url=settings.public_url)

    def words(self, lang: str) -> Catalog:
        if not self.strict:
            return catalog(lang)
        if lang not in self._strict_words:
            self._strict_words[lang] = Catalog(lang, strict=True)
        return self._strict_words[lang]

    def _html_words(self, lang: str) -> Callable[..., Markup]:
        if lang not in self._html_t:
            self._html_t[lang] = _html_words(self.words(lang))
        return self._html_t[lang]

    def has(self, template: str, lang: str) -> bool:
        """Both templates exist and the catalogue has the email's subject in `lang`."""
        return (
            template in self._text
            and template in self._html
            and catalog(lang).lang == lang
            and catalog(lang).has(f"email.{template}.subject")
        )

    def languages_for(self, n: Notification) -> tuple[str, ...]:
        """French always; the newcomer's language beside it (after it) only for newcomers,
        only if the email exists in it, and only within six months of arrival."""
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

    def _context(
        self, n: Notification, recipient_name: str | None, lang: str, now: datetime
    ) -> dict[str, Any]:
        words = self.words(lang)
        ctx: dict[str, Any] = {
            "dossier": dossier_of(n.workflow_id),
            "region": n.region,
            "arrival_date": n.arrival_date,
            "officer_id": n.officer_id,
            **n.context,
        }
        tz = zone(ctx.get("region") or n.region, n.time_zone)
        arrival = _as_moment(ctx.get("arrival_date"))

        def long_date(value: str | date | datetime | None) -> str:
            moment = _as_moment(value)
            return _long_date(words, None if moment is None else _day(moment, tz))

        def date_time(value: str | datetime | None) -> str:
            # A moment (a meeting): its date and hour in the case's zone.
            moment = _as_moment(value)
            return words.date_time(moment if isinstance(moment, datetime) else None, tz)

        def stage(code: str | None) -> str:
            return words(f"email.stage.{code}") if code else words("email.staff.stage_none")

        def days(count: int) -> str:
            return words.plural("email.staff.days", count)

        def language_name(code: str | None) -> str:
            return _language_names(words.locale).get((code or "").lower(), code or "")

        dossier = ctx["dossier"]
        return {
            **ctx,
            "recipient_name": recipient_name,
            "lang": lang,
            "greeting": (
                words("email.greeting", name=recipient_name)
                if recipient_name
                else words("email.greeting_anonymous")
            ),
            # The newcomer is already here: the welcome promises no airport greeting.
            "arrived": isinstance(arrival, date) and _day(arrival, tz) < now.astimezone(tz).date(),
            "case_url": f"{self.public_url}/cases/{quote(str(dossier), safe='')}",
            # The language's own filters (LANGUAGE_FILTERS); `_t` is set per kind below.
            "_long_date": long_date,
            "_date_time": date_time,
            "_stage_name": stage,
            "_days": days,
            "_language_name": language_name,
            "_has": words.has,
            "_plural": words.plural,
        }

    def _render_one(
        self, n: Notification, recipient_name: str | None, lang: str, now: datetime
    ) -> RenderedMessage:
        ctx = self._context(n, recipient_name, lang, now)
        words = self.words(lang)
        raw = self._text[n.template].render({**ctx, "_t": words})
        first, _, body = raw.lstrip().partition("\n")
        if not first.startswith("Subject:"):
            raise TemplateInvalid(f"{n.template}.txt.j2: first line must be 'Subject: ...'")
        subject = _WHITESPACE.sub(" ", first.removeprefix("Subject:")).strip()
        html = self._html[n.template].render(
            {**ctx, "_t": self._html_words(lang), "subject": subject}
        )
        return RenderedMessage(subject, body.strip() + "\n", html.strip(), (lang,))

    def render_in(self, n: Notification, recipient_name: str | None, lang: str) -> RenderedMessage:
        """The email in one language alone (what `render` puts in each section)."""
        return self._render_one(n, recipient_name, lang, self.clock())

    def render(self, n: Notification, recipient_name: str | None) -> RenderedMessage:
        languages = self.languages_for(n)
        now = self.clock()
        parts = [self._render_one(n, recipient_name, lang, now) for lang in languages]
        subject = " / ".join(p.subject for p in parts)
        text = TEXT_SEPARATOR.join(p.text.rstrip() for p in parts) + "\n"
        # The fragments were autoescaped when rendered; mark them safe for the layout.
        sections = [{"lang": p.languages[0], "html": Markup(p.html)} for p in parts]
        html = self._layout.render(subject=subject, sections=sections, lang=FRENCH)
        return RenderedMessage(subject, text, html, languages)


@lru_cache(maxsize=1024)
def _long_date(words: Catalog, day: date | None) -> str:
    # Babel takes about as long to write one date as the rest of an email: the same few
    # dates (arrival days, today) come back all day.
    return words.long_date(day)


def _day(value: date | datetime, tz: tzinfo) -> date:
    if isinstance(value, datetime):
        return value.astimezone(tz).date() if value.tzinfo else value.date()
    return value
