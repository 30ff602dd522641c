"""Empresas (the office's clients).

Registration, characteristics, regime changes and their consequences on obligations and tarefas.
"""
