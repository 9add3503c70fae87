"""Queries and persistence of the auth service, by feature (async; authlib reaches them through
the bridge in ``oauth.py``).

- ``accounts``: accounts, memberships, the principal a token carries;
- ``clients``: API clients and the first-party staff app;
- ``tokens``: authorization codes, access and refresh tokens;
- ``logins``: login throttling and login sessions;
- ``invitations``: invitations to a structure and password resets.
"""
