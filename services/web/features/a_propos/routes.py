"""Licences and credits of what the pages ship (no CDN: every asset is served from here)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from services.web.rendering import render


class About(Controller):
    include_in_schema = False

    @get("/a-propos")
    async def about(self, request: Request[Any, Any, Any], visitor: Any) -> Response[Any]:
        return render(request, "a_propos/licences.html", title="Licences et crédits")


ROUTES = [About]
