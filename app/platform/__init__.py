"""Platform concerns: audit log, API tokens, office settings, backups, log cleanup and demo data."""
