"""HTTP controllers of the referrals service. Each module here exposes ``ROUTES``."""

from __future__ import annotations

import importlib
import pkgutil

from litestar.types import ControllerRouterHandler


def collect_routes() -> list[ControllerRouterHandler]:
    routes: list[ControllerRouterHandler] = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        routes.extend(getattr(module, "ROUTES", []))
    return routes
