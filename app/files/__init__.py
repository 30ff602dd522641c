"""Stored files.

Recording a stored object (store), reading its bytes whether an object or a zip member (reader:
no database code, imported by pool workers) and the database side of it (content).
"""
