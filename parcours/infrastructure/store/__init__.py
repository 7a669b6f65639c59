"""The read model: officers, the case projection, the audit trail and the email outbox.

Temporal holds the truth of each case; these tables answer the questions Temporal cannot
answer cheaply (caseloads, reports, who is who) and keep the newcomers' contact data.
"""
