"""Background jobs of the auth service: forgetting login failure counters past their window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.auth.store.logins import THROTTLES
from services.kernel import throttle
from services.kernel.clock import utcnow
from services.kernel.jobs import Job


async def forget_login_counters(app: Any) -> int:
    """Forget the login failure counters (per e-mail digest, per address) once their window has
    passed and no lock holds: an address is personal data, kept no longer than it protects."""
    state = app.state
    before = utcnow() - timedelta(seconds=state.settings.auth_login_lockout_seconds)
    async with state.db.session() as session:
        return await throttle.forget(session, THROTTLES, before)


JOBS: list[Job] = [
    Job("auth.forget-login-counters", "auth", 3600.0, forget_login_counters),
]
