"""Who goes first on the task queue: people before bulk work (README, "Priority").

Temporal's task-queue priority: keys 1 (first) to 5 (last), 3 when unset. A workflow's tasks
and, unless they say otherwise, its activities run at the priority it was started with. When
tasks back up on the queue, a task of a lower key is handed to the worker first; in the same
key they go in arrival order.

- A case opened by a person (`parcours start`) runs at PEOPLE.
- A case opened in bulk (`parcours import`, the API's intake: application/start_many.py) runs
  at BULK, so its opening (register, audit, welcome email) waits behind people's work.
- A person who acts on a case (an update) first raises it to PEOPLE: the update runs in a
  workflow task of the case, at the case's priority (`parcours.infrastructure.temporal`).
- Background sweeps (retention) run at BACKGROUND, behind everything.
"""

from __future__ import annotations

from temporalio.common import Priority

# Temporal's default: a workflow started with no priority has this one.
PEOPLE_KEY = 3
BULK_KEY = 4
BACKGROUND_KEY = 5

PEOPLE = Priority(priority_key=PEOPLE_KEY)
BULK = Priority(priority_key=BULK_KEY)
BACKGROUND = Priority(priority_key=BACKGROUND_KEY)


def for_start(*, bulk: bool) -> Priority:
    """The priority a new case starts at."""
    return BULK if bulk else PEOPLE
