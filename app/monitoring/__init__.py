"""Monitoring: Prometheus metrics (``exporter``), error tracking (``errors``), JSON logs and
Loki shipping (``logs``), alert rules (``alerts``). Runbook: docs/monitoring.md."""
