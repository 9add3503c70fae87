"""Queries and persistence of the native directory API, by feature.

- ``reads``: one entry and what renders it (sessions, link states, history);
- ``lists``: visibility, filters and keyset pages of entries;
- ``review``: what maintainers should look at (stale, dead or failing links, capacity…);
- ``writes``: create, update, verify and status changes, with history rows and outbox events.
"""
