"""Guides (tax slips).

Generation with the DAS calculation (generation), the revenue ledger (ledger), the PDF (pdf) and
the delivery protocol (protocol).
"""
