"""authlib's (synchronous) authorization server, run in a worker thread.

By feature: ``adapter`` (what authlib sees of a request and a client), ``grants`` (authorization
code with PKCE, refresh with rotation, client credentials), ``introspection`` (RFC 7662 and RFC
7009: finding, describing and revoking a token), ``server`` (the per-request server that signs
the tokens, and how a handler runs it).

Each OAuth request builds a small ``RelaisServer`` bound to the request's async database
session. The handler runs authlib in a worker thread (``anyio.to_thread.run_sync``); whenever
authlib needs the database, the thread hands an async query back to the event loop with
``anyio.from_thread.run`` and waits for it. So the loop is never blocked, every query runs on the
loop with the same async engine and transaction as the rest of the request, and no second
(sync) driver or connection pool is needed.

Codes and refresh tokens are single use: "used" is recorded with an ``UPDATE … WHERE used IS
NULL`` so exactly one concurrent request wins; the loser (a replay) revokes the whole family.
"""
