"""Background jobs of the directory service."""

from __future__ import annotations

from typing import Any

from services.directory.geocoding import geocode_pending
from services.directory.linkcheck import check_links
from services.directory.models import OutboxEvent
from services.directory.search.feed import sync_job
from services.kernel.jobs import Job
from services.kernel.outbox import prune_job

LINK_CHECK_INTERVAL_SECONDS = 24 * 3600.0
# The first pass waits a day after the worker first starts: a machine set up offline (or a demo
# started once) does not probe every website of its directory at once.
LINK_CHECK_FIRST_DELAY_SECONDS = LINK_CHECK_INTERVAL_SECONDS
# Directory changes reach Meilisearch within a few seconds (see search/meili.py and feed.py).
SEARCH_SYNC_INTERVAL_SECONDS = 1.0
# New and changed addresses get their position within about a minute (when GEOCODER_URL is set).
GEOCODE_INTERVAL_SECONDS = 60.0


async def check_links_job(app: Any) -> int:
    """Daily pass of the link checker over every website, referral and booking link."""
    summary = await check_links(app.state.db, app.state.settings)
    return summary.links


async def geocode_job(app: Any) -> int:
    """Positions of the addresses not looked up yet (``geocoding``); nothing when the geocoder
    is off (GEOCODER_URL empty)."""
    summary = await geocode_pending(app.state.db, app.state.settings)
    return summary.found + summary.not_found


JOBS: list[Job] = [
    Job(
        "directory.check-links",
        "directory",
        LINK_CHECK_INTERVAL_SECONDS,
        check_links_job,
        first_delay_seconds=LINK_CHECK_FIRST_DELAY_SECONDS,
    ),
    Job("directory.geocode", "directory", GEOCODE_INTERVAL_SECONDS, geocode_job),
    Job("directory.search-sync", "directory", SEARCH_SYNC_INTERVAL_SECONDS, sync_job),
    Job("directory.prune-outbox", "directory", 3600.0, prune_job(OutboxEvent)),
]
