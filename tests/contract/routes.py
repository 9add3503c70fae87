"""The routes of every service as the gateway serves them, and a world of real resources for
the tests that visit them all (hostile input, API consistency)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar.routes import HTTPRoute

from services.gateway import GATEWAY_PATHS, SITE
from services.kernel.inputs import ANY_QUERY
from services.kernel.problems import PROBLEM_RESPONSES
from tests.conftest import Relais
from tests.referrals.conftest import Org, World, create_referral

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PARAMETER = re.compile(r"\{(\w+):(\w+)\}")
ALL_SCOPES = (
    "directory:read", "directory:write", "referrals:read", "referrals:write", "stats:read",
    "webhooks:manage",
)  # fmt: skip


@dataclass
class Operation:
    service: str
    method: str
    path: str
    handler: Any
    query: list[str]
    fields: list[str]
    json_body: bool

    @property
    def protocol(self) -> bool:
        """OAuth 2 endpoints: their own error format, and unknown parameters ignored."""
        return self.handler.opt.get(PROBLEM_RESPONSES) is False

    @property
    def open_query(self) -> bool:
        return self.protocol or bool(self.handler.opt.get(ANY_QUERY))


def operations(apps: dict[str, Any]) -> list[Operation]:
    found: list[Operation] = []
    for service, app in apps.items():
        for route in app.routes:
            if not isinstance(route, HTTPRoute):
                continue
            for method, (handler, model) in route.route_handler_map.items():
                if method in ("HEAD", "OPTIONS"):
                    continue
                query = sorted(p.field_alias for p in model.expected_query_params)
                data = handler.parsed_fn_signature.parameters.get("data")
                kind = getattr(data, "annotation", None)
                fields = list(getattr(kind, "__struct_fields__", ())) or ["name"]
                if not reachable(service, route.path, apps):
                    continue  # /healthz, /readyz, /metrics: answered by the gateway itself
                json_body = data is not None
                found.append(
                    Operation(service, method, route.path, handler, query, fields, json_body)
                )
    # Deletions last: the other operations keep their real resources.
    return sorted(found, key=lambda o: o.method == "DELETE")


def reachable(service: str, path: str, apps: dict[str, Any]) -> bool:
    """Whether the gateway hands this path to this service (the web app answers every path no
    other service's prefix claims, but the gateway's own)."""
    first = path.strip("/").split("/")[0]
    if service == SITE:
        return first not in apps and path not in GATEWAY_PATHS and first != "docs"
    return first == service


def url(path: str, real: dict[str, str], override: dict[str, str] | None = None) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind = match.groups()
        if override and name in override:
            return override[name]
        return quote(real.get(name, str(uuid.uuid4()) if kind == "uuid" else "x"), safe="")

    return PARAMETER.sub(value, path)


@dataclass
class Resources:
    """Real resources of every kind, and the path parameters naming them."""

    world: World
    sender: Org
    receiver: Org
    real: dict[str, str]


async def resources(relais: Relais) -> Resources:
    world = World(relais)
    sender, receiver = await world.org("Envoi"), await world.org("Accueil")
    service_id = await world.service(receiver)
    referral = await create_referral(world, sender, receiver)
    place = await world.client.post(
        "/directory/v1/places",
        json={"structure_id": str(sender.id), "name": "Permanence"},
        headers=world.moderator,
    )
    hook = await world.client.post(
        "/referrals/v1/webhooks", json={"url": "https://hooks.example.org/x"}, headers=sender.admin
    )
    attachment = await world.client.post(
        f"/referrals/v1/referrals/{referral['id']}/attachments",
        content=PDF,
        headers={
            **sender.member,
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="courrier.pdf"',
        },
    )
    for created in (place, hook, attachment):
        assert created.status_code == 201, created.text
    real = {
        "structure_id": str(sender.id),
        "organization_id": str(sender.id),
        "service_id": str(service_id),
        "place_id": place.json()["id"],
        "location_id": place.json()["id"],
        "referral_id": referral["id"],
        "handoff_id": referral["handoffs"][0]["id"],
        "webhook_id": hook.json()["id"],
        "attachment_id": attachment.json()["id"],
        "kind": "structures",
        "code": "26362",
        "name": "thematiques",
        "taxonomy_id": "thematiques",
        "path": "swagger",
    }
    return Resources(world, sender, receiver, real)
