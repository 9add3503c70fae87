"""The referrals service app."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar

from services.kernel.app import create_service_app
from services.kernel.db import Database
from services.kernel.http import ServiceLocator
from services.kernel.settings import Settings

SERVICE_NAME = "referrals"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings, locator: ServiceLocator) -> Litestar:
    db = Database(settings, SERVICE_NAME)
    return create_service_app(
        service=SERVICE_NAME,
        title="Relais — orientations",
        description="",
        settings=settings,
        db=db,
        locator=locator,
        route_handlers=[],
    )
