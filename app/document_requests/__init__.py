"""Monthly document requests (solicitações).

Templates, generation per competência, items received, reminders and closing.
"""
