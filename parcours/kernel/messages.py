"""What the rules say to people, as a stable code and parameters, never as finished text.

The kernel refuses with a `Message` ("plan_required", "wrong_stage" with current and asked);
each interface renders it in its reader's language from the one catalogue
(`parcours.infrastructure.catalog.Catalog.message`): the key is `refusal.<code>`. A parameter
whose value is itself a catalogue key ("stage.arrival") is rendered in the same language, so a
refusal names the stage « Accueil » on a French console and "Arrival" on an English one.

Parameters carry codes, numbers, dossier numbers and officer ids only: never a name, an email
or a note, since a refusal crosses Temporal and reaches logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The ApplicationError type of a refusal that crosses Temporal; its first detail is
# `Message.as_dict()`.
REFUSAL_ERROR_TYPE = "Rejected"


@dataclass(frozen=True)
class Message:
    code: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, code: str, **params: Any) -> Message:
        return cls(code, tuple(sorted((k, str(v)) for k, v in params.items())))

    @property
    def key(self) -> str:
        return f"refusal.{self.code}"

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: object) -> Message | None:
        """The message a refusal carried across Temporal, or None if `data` is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("code"), str):
            return None
        params = data.get("params") or {}
        if not isinstance(params, dict):
            return None
        return cls.of(data["code"], **params)

    def __str__(self) -> str:
        # For logs and tests only: people read the catalogue's rendering.
        if not self.params:
            return self.code
        return self.code + "{" + ", ".join(f"{k}={v}" for k, v in self.params) + "}"
