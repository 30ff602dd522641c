"""Preloaded by the ingest pool's fork server (see :mod:`app.documents.classify`).

Importing this module imports everything a worker runs and compiles the NF-e schemas, once, in
the fork server; every worker forked from it starts ready (no imports, no schema compilation).
It must stay light: no database, Prefect or web imports.
"""

from __future__ import annotations

from app.documents.classify_pool import warm_schemas

warm_schemas()
