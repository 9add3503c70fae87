"""The OpenAPI ``webhooks`` section: what Relais POSTs to a subscription, and how it is signed."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
)

from services.referrals.feed import EVENT_TYPES

SIGNING = """Standard Webhooks (https://www.standardwebhooks.com/).

- `webhook-id`: the message id (`msg_…`). It stays the same when a message is retried or
  replayed, so de-duplicate on it.
- `webhook-timestamp`: Unix seconds when the message was sent. Refuse messages older than a few
  minutes.
- `webhook-signature`: `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")),
  where `key` is the base64-decoded part of the secret after `whsec_`. After a secret rotation,
  the previous secret also signs during the overlap: the signatures are then separated by spaces
  and any one that verifies is enough.

Each event is sent once to each subscription, in order for each referral, from a transactional
outbox. Delivery is still at least once: when the database fails between your 2xx and its record,
or when a replay is asked, the message comes again with the same `webhook-id` and body. Store the
`webhook-id`s you processed (for at least `WEBHOOK_RETRY_HOURS`), ideally under a unique key in
the transaction of your own change, and answer 2xx without acting again on a repeat. Any
non-2xx answer, a redirect (never followed) or a timeout is retried with exponential backoff and
jitter for up to `WEBHOOK_RETRY_HOURS` (3 days). A subscription still failing after that is
disabled, and its structure is told by e-mail. Payloads carry ids, states and reason codes only;
read the referral through the API for its details (consent rules apply there).

`POST /referrals/v1/webhooks/{id}/test` sends a `ping` message, signed the same way:
`{"id", "type": "ping", "timestamp", "data": {"webhook_id", "structure_id"}}`. Answer it with any
2xx; it is sent once and never retried."""


def _header(name: str, description: str) -> Parameter:
    return Parameter(
        name=name,
        param_in="header",  # type: ignore[arg-type]
        required=True,
        description=description,
        schema=Schema(type=OpenAPIType.STRING),
    )


def message_schema() -> Schema:
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["id", "type", "timestamp", "data"],
        properties={
            "id": Schema(type=OpenAPIType.STRING, format="uuid", description="id of the event"),  # type: ignore[arg-type]
            "type": Schema(type=OpenAPIType.STRING, enum=list(EVENT_TYPES)),
            "timestamp": Schema(type=OpenAPIType.STRING, format="date-time"),  # type: ignore[arg-type]
            "data": Reference(ref="#/components/schemas/EventData"),
        },
        description="One referral event (the same shape as an item of GET /referrals/v1/events).",
    )


def describe(app: Litestar) -> Litestar:
    """Add the webhooks section to the app's OpenAPI document."""
    config = app.openapi_config
    if config is None:  # pragma: no cover - always set by the kernel
        return app
    operation = Operation(
        operation_id="ReferralEventWebhook",
        summary="Événement d'orientation envoyé à un abonnement",
        description=SIGNING,
        tags=["Webhooks"],
        parameters=[
            _header("webhook-id", "identifiant du message (dé-duplication)"),
            _header("webhook-timestamp", "horodatage Unix de l'envoi"),
            _header(
                "webhook-signature", "`v1,<signature base64>` (une ou deux, séparées d'espaces)"
            ),
        ],
        request_body=RequestBody(
            required=True,
            content={"application/json": OpenAPIMediaType(schema=message_schema())},
        ),
        responses={
            "2XX": OpenAPIResponse(description="reçu ; toute autre réponse est retentée"),
            "410": OpenAPIResponse(
                description="retentée comme les autres erreurs",
                headers={"Retry-After": OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING))},
            ),
        },
    )
    config.webhooks = {"referral-event": PathItem(post=operation)}
    return app
