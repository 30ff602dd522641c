"""Guides (tax slips): the database side of the guide rules in ``app.fiscal``.

- ``generation``: one guide per guide-bearing tarefa, DAS amounts from ``app.fiscal.das``;
- ``lifecycle``: official document registration, overdue, cancellation/reopening, listing;
- ``ledger``: monthly revenue (rules in ``app.fiscal.revenue``) and declared payroll;
- ``documents``, ``queries``: files handed in for a guide, and the read side for the API;
- ``pdf`` and ``protocol``: the office's PDF and the delivery protocol.
"""
