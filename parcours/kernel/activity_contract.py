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

PERMANENT_READ_MODEL_FAILURES: tuple[str, ...] = (INVALID_INPUT,)
PERMANENT_MAIL_FAILURES: tuple[str, ...] = (SMTP_REJECTED, TEMPLATE_MISSING)
