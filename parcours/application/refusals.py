"""A refusal as code and parameters, whatever shape it reached an interface in.

The workflow refuses with an `ApplicationError` of type Rejected whose first detail is
`Message.as_dict()`; the client wraps it in a `WorkflowUpdateFailedError` (its `cause`), and
`parcours.infrastructure.temporal.update_case` turns that into `UpdateRejected` carrying the
message as `refusal`. The kernel's own checks raise `rules.Rejected` or an `InvalidInput`
with a `refusal`. Interfaces call `message_of` and render what it finds in their reader's
language; for anything else they fall back to the error's text.

Read by duck typing rather than by importing temporalio's classes: the CLI's error path calls
this, and the CLI keeps temporalio out of the commands that do not need it.
"""

from __future__ import annotations

from parcours.kernel.errors import ParcoursError, first_line
from parcours.kernel.messages import REFUSAL_ERROR_TYPE, Message
from parcours.kernel.rules import Rejected

# How far along `cause` / `__cause__` links to look (a refusal is at most two links down).
_DEPTH = 4


def _own(exc: BaseException) -> Message | None:
    if isinstance(exc, Rejected):
        return exc.message
    if isinstance(exc, ParcoursError):
        return exc.refusal
    # temporalio's ApplicationError: `type` and `details` (decoded by the client).
    if getattr(exc, "type", None) == REFUSAL_ERROR_TYPE:
        try:
            details = getattr(exc, "details", None) or ()
        except Exception:
            # Details this client cannot decode (encrypted with a key it lacks): no code to
            # read; the caller falls back to the error's text.
            return None
        return Message.from_dict(details[0]) if details else None
    return None


def message_of(exc: BaseException) -> Message | None:
    """The refusal `exc` carries (itself, or the failure it wraps), or None."""
    seen: BaseException | None = exc
    for _ in range(_DEPTH):
        if seen is None:
            return None
        found = _own(seen)
        if found is not None:
            return found
        # WorkflowUpdateFailedError and ActivityError keep the failure in `cause`.
        nxt = getattr(seen, "cause", None)
        seen = nxt if isinstance(nxt, BaseException) else seen.__cause__
    return None


def render(exc: BaseException, lang: str, *, prefix: str = "") -> str:
    """What a person reads for `exc` in `lang`: the refusal from the catalogue, or else the
    error's first line less `prefix`. The case an error is about (`ParcoursError.dossier`) is
    named « dossier D-1 : … », unless `prefix` says the page already names it."""
    # Here, not at the top: the CLI imports this module on its error path, and the catalogue
    # (Babel) only when there is a refusal to word.
    from parcours.infrastructure.catalog import catalog

    found = message_of(exc)
    if found is None:
        return first_line(exc).removeprefix(prefix)
    words = catalog(lang)
    text = words.message(found)
    # The case the error names, unless the reader's page already shows it (`prefix`).
    dossier = getattr(exc, "dossier", None)
    if dossier is None or prefix:
        return text
    return words("cli.error.refused", dossier=dossier, reason=text)
