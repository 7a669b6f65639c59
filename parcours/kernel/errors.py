"""Errors that people see: each carries one clear line, and interfaces print only that line."""

from __future__ import annotations

from parcours.kernel.messages import Message


class ParcoursError(Exception):
    """A failure to report to a person as one line (no traceback): bad input, missing case...

    `refusal`, when set, is the same failure as a code and parameters: interfaces render it in
    their reader's language (`parcours.application.refusals.message_of`); the English line
    stays for logs and for errors that have no code yet."""

    refusal: Message | None = None
    # The case the failure is about, when the refusal's own words do not name it: an interface
    # that does not already show the case names it (« dossier D-1 : … »).
    dossier: str | None = None

    def __init__(
        self, *args: object, refusal: Message | None = None, dossier: str | None = None
    ) -> None:
        super().__init__(*args if args else ((str(refusal),) if refusal is not None else ()))
        if refusal is not None:
            self.refusal = refusal
        if dossier is not None:
            self.dossier = dossier


class CaseAlreadyExists(ParcoursError):
    """Starting a dossier that already has a case: a normal outcome for `import`, not a crash."""


class CaseNotFound(ParcoursError):
    pass


class UpdateRejected(ParcoursError):
    """The workflow refused an officer's action (wrong stage, wrong officer, no plan...)."""


class TemporalUnavailable(ParcoursError):
    pass


def first_line(err: object) -> str:
    """An error in one line (a server's message can run to a stack trace), or its type's name
    when it says nothing."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
