"""Errors that people see: each carries one clear line, and interfaces print only that line."""

from __future__ import annotations


class ParcoursError(Exception):
    """A failure to report to a person as one line (no traceback): bad input, missing case..."""


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
