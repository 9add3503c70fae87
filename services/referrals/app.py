"""The referrals service app: consent-based referrals, handoffs relay by relay, timeline."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.di import Provide

from services.kernel.app import create_service_app
from services.kernel.db import Database
from services.kernel.http import ServiceLocator
from services.kernel.settings import Settings
from services.referrals.api.attachments import AttachmentController
from services.referrals.api.boxes import BoxController
from services.referrals.api.events import EventsController
from services.referrals.api.export import SubjectAccessController
from services.referrals.api.followup import FollowUpCodeController, FollowUpController
from services.referrals.api.handoffs import HandoffController
from services.referrals.api.notifications import NotificationPreferencesController
from services.referrals.api.referrals import ReferralController
from services.referrals.api.stats import StatsController
from services.referrals.api.webhooks import WebhooksController
from services.referrals.deps import (
    KeyringHolder,
    provide_attachments,
    provide_reading,
    provide_service,
    provide_session_once_authenticated,
)
from services.referrals.webhooks.openapi import describe as describe_webhooks

SERVICE_NAME = "referrals"
MIGRATIONS = Path(__file__).parent / "migrations"

DESCRIPTION = """Orientations d'une personne vers des partenaires, avec son consentement, suivies
transmission par transmission jusqu'à la prise en charge.

- Chaque POST accepte un en-tête `Idempotency-Key` : une nouvelle tentative renvoie la première
  réponse et ne crée rien ; la même clé avec un autre contenu donne 422.
- Les transitions d'une transmission exigent `If-Match` avec son ETag (sa version) : en cas
  d'écritures concurrentes, une seule réussit, les autres reçoivent 409 ou 412.
- Les données personnelles ne sont visibles que dans les limites du consentement ; chaque lecture
  est journalisée. Les erreurs suivent RFC 9457 (`application/problem+json`).
"""


def create_app(settings: Settings, locator: ServiceLocator) -> Litestar:
    db = Database(settings, SERVICE_NAME)
    app = create_service_app(
        service=SERVICE_NAME,
        title="Relais — orientations",
        description=DESCRIPTION,
        settings=settings,
        db=db,
        locator=locator,
        route_handlers=[
            AttachmentController,
            BoxController,
            EventsController,
            SubjectAccessController,
            FollowUpCodeController,
            FollowUpController,
            HandoffController,
            NotificationPreferencesController,
            ReferralController,
            StatsController,
            WebhooksController,
        ],
        dependencies={
            "session": Provide(provide_session_once_authenticated),
            "svc": Provide(provide_service),
            "reading": Provide(provide_reading),
            "attachments": Provide(provide_attachments),
        },
        state={"keyring": KeyringHolder(settings)},
    )
    return describe_webhooks(app)  # the OpenAPI document's webhooks section
