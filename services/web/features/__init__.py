"""Feature modules of the web app, each with its routes and its templates folder."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from services.web.features import (
    a_propos,
    accueil,
    annuaire,
    connexion,
    equipe,
    fiches,
    integrations,
    ma_structure,
    orientations,
    orienter,
    statistiques,
    suivi,
)

ROUTES: list[ControllerRouterHandler] = [
    *connexion.routes.ROUTES,
    *accueil.routes.ROUTES,
    *annuaire.routes.ROUTES,
    *fiches.routes.ROUTES,
    *ma_structure.routes.ROUTES,
    *orienter.routes.ROUTES,
    *statistiques.routes.ROUTES,
    *equipe.routes.ROUTES,
    *integrations.routes.ROUTES,
    *a_propos.routes.ROUTES,
    *suivi.routes.ROUTES,
    *orientations.routes.ROUTES,
    *orientations.actions.ROUTES,
    *orientations.relay.ROUTES,
    *orientations.preferences.ROUTES,
    *orientations.lien_suivi.ROUTES,
]
