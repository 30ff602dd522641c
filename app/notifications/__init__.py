"""Notifications.

The outbox (idempotent queue), delivery policy and status tracking (delivery) and the send step
(sending) over the channels of app.notify.
"""
