"""Obligations.

The catalogue and automatic assignment per empresa (catalogue), what operators define by hand:
custom obligations and per-empresa adjustments (custom), monthly tarefas: generation and status
(tarefas) and what staff do with one (tarefa_actions), the one business-day calendar (calendar)
with the holidays operators register (holidays), and due-date alerts (alerts).
"""
