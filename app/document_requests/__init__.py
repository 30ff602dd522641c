"""Monthly document requests (solicitações).

Generation per competência, items received and closing (service), the shipped templates
(templates), the reminder cycle (reminders) and the read side for listings (queries).
"""
