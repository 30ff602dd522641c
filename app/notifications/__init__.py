"""Notifications.

The outbox (idempotent queue), delivery policy (delivery: claim, record, crash recovery), status
changes and the WhatsApp status webhook (statuses) and the send step (sending) over the channels
of app.notify. Status changes are returned to the caller, never pushed to other domains.
"""
