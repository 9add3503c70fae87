"""The directory service app: structures, services, places, taxonomies, search, imports."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar

from services.directory.api.exports import ExportController
from services.directory.api.hsds import HsdsController
from services.directory.api.imports import ImportController
from services.directory.api.places import PlaceController
from services.directory.api.reference import ReferenceController
from services.directory.api.review import ReviewController
from services.directory.api.search import SearchController
from services.directory.api.services import ServiceController
from services.directory.api.structures import StructureController
from services.directory.search import postgres
from services.directory.search.backend import create_primary
from services.kernel.app import create_service_app
from services.kernel.db import Database
from services.kernel.http import ServiceLocator
from services.kernel.settings import Settings

SERVICE_NAME = "directory"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings, locator: ServiceLocator) -> Litestar:
    db = Database(settings, SERVICE_NAME, server_settings=postgres.SERVER_SETTINGS)
    search_primary = create_primary(settings, db)
    return create_service_app(
        service=SERVICE_NAME,
        title="Relais — annuaire",
        description="Annuaire partagé des structures partenaires et de leurs services.",
        settings=settings,
        db=db,
        locator=locator,
        route_handlers=[
            ExportController,
            HsdsController,
            ImportController,
            PlaceController,
            ReferenceController,
            ReviewController,
            SearchController,
            ServiceController,
            StructureController,
        ],
        state={"search_primary": search_primary},
        on_shutdown=[search_primary.close] if search_primary is not None else [],
    )
