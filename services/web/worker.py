"""Background job of the web service: ended sessions (their refresh tokens revoked at auth),
abandoned sign-ins and old referral drafts are deleted."""

from __future__ import annotations

from litestar import Litestar

from services.kernel.jobs import Job
from services.web.drafts import Drafts
from services.web.sessions import Sessions


async def purge_sessions(app: Litestar) -> int:
    sessions: Sessions = app.state.sessions
    drafts: Drafts = app.state.drafts
    return await sessions.purge() + await drafts.purge()


JOBS: list[Job] = [Job("web.purge-sessions", "web", 3600.0, purge_sessions)]
