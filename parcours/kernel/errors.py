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
