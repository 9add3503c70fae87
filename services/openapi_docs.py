"""OpenAPI documents of each service, rendered deterministically (openapi/ and its drift test)."""

from __future__ import annotations

import json

from services import system
from services.kernel.settings import Settings


def render(settings: Settings) -> dict[str, bytes]:
    apps, _ = system.build_apps(settings, system.API_SERVICES)
    documents = {}
    for name, app in apps.items():
        schema = app.openapi_schema.to_schema()
        documents[name] = (
            json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        ).encode()
    return documents
