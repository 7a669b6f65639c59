"""What the workflows and the activities agree on: activity names, and the failure types that
no retry can fix.

Both sides import these names: the activities register under them (`@activity.defn(name=...)`)
and raise them (`ApplicationError(type=...)`); the workflows call them and list the permanent
ones in their retry policies. A name changed on one side only then fails
tests/workflows/test_activity_contract.py instead of silently turning a permanent failure into
retries without end (the retry policy once named `InvalidCaseEvent`, which nothing raised).

Plain strings and no imports: the module is passed through the workflow sandbox.
"""

from __future__ import annotations

# Activity names (activities/casework.py, activities/notify.py, activities/retention.py).
REGISTER_CASE = "register_case"
RECORD_EVENT = "record_event"  # v1 workflows; v2 batches events
RECORD_EVENTS = "record_events"
SEND_NOTIFICATION = "send_notification"  # v1 workflows; v2 batches emails
SEND_NOTIFICATIONS = "send_notifications"
PURGE_PERSONAL_DATA = "purge_personal_data"
FIND_OFFICER = "find_officer"  # issue 17: an unassigned case asks who may take it now
# The batch workflow's (activities/batches.py, issue 17).
CHECK_BATCH = "check_batch"
READ_ROSTER = "batch_roster"
READ_CASES = "batch_cases"
ACT_ON_CASE = "batch_act"
CLOSE_DEPARTURE = "batch_departure"
ACTIVITY_NAMES: tuple[str, ...] = (
    REGISTER_CASE,
    RECORD_EVENT,
    RECORD_EVENTS,
    SEND_NOTIFICATION,
    SEND_NOTIFICATIONS,
    PURGE_PERSONAL_DATA,
    FIND_OFFICER,
    CHECK_BATCH,
    READ_ROSTER,
    READ_CASES,
    ACT_ON_CASE,
    CLOSE_DEPARTURE,
)

# Failure types. Permanent: raised with non_retryable=True, and listed in the retry policy of
# every activity that can raise them (a workflow compiled before non_retryable was set, or a
# type raised without it, still stops retrying).
INVALID_INPUT = "InvalidInput"  # input that can never be recorded (a bug, not an outage)
SMTP_REJECTED = "SmtpRejected"  # the mail server refused the message for good (5xx)
TEMPLATE_MISSING = "TemplateMissing"  # no template for this email, in French at least
# Transient: an earlier attempt may still be sending the email; retried at the end of its lease.
EMAIL_IN_FLIGHT = "EmailInFlight"

# One email's attempt, as activities/notify.py bounds it: the SMTP exchange (connection
# included) is cut at SEND_DEADLINE_S, then the "sent" record is retried for RECORD_PATIENCE_S
# (and its last pause, RECORD_RETRY_MAX_S). An attempt run inside the case's workflow task (a
# local activity, v10) is cancelled by the worker at its start-to-close, which then covers all
# of it (EMAIL_ATTEMPT_S, with room for the outbox reads and claim): cut while recording, the
# email would be left in doubt and sent twice. An activity task's attempt is not cancelled at
# its limit (no heartbeat), so its 60 s only make the retry come, and find it in its lease.
SEND_DEADLINE_S = 60.0
RECORD_PATIENCE_S = 30.0
RECORD_RETRY_MAX_S = 4.0
EMAIL_ATTEMPT_S = SEND_DEADLINE_S + RECORD_PATIENCE_S + RECORD_RETRY_MAX_S + 6.0

PERMANENT_READ_MODEL_FAILURES: tuple[str, ...] = (INVALID_INPUT,)
PERMANENT_MAIL_FAILURES: tuple[str, ...] = (SMTP_REJECTED, TEMPLATE_MISSING)
