"""Background job of the web service: ended sessions and abandoned sign-ins are deleted."""

from __future__ import annotations

from litestar import Litestar

from services.kernel.jobs import Job
from services.web import store
from services.web.sessions import Sessions


async def purge_sessions(app: Litestar) -> int:
    sessions: Sessions = app.state.sessions
    async with sessions.db.session() as session:
        return await store.purge(session, sessions.idle)


JOBS: list[Job] = [Job("web.purge-sessions", "web", 3600.0, purge_sessions)]
