"""Obligations.

The catalogue per empresa (catalogue), monthly tarefas (tarefas), the business-day calendar with
registered holidays (calendar) and due-date alerts (alerts).
"""
