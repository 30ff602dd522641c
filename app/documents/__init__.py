"""Fiscal documents.

Reception of uploads (files and zips), ingest (classification on a process pool, bulk upsert),
events, lifecycle (finishing and recovering uploads) and office administration (revalidation,
deletion).
"""
