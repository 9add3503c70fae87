"""Exchange formats of the directory: data·inclusion v1 (import/export) and HSDS 3.1 (read view).

Modules here are pure mappings (no database, no HTTP): rows in, rows out, errors as values.
"""
