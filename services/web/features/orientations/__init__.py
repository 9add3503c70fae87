"""Orientations sent and received: lists, the inbox, one referral for either side, its forms."""

from services.web.features.orientations import actions as actions
from services.web.features.orientations import lien_suivi as lien_suivi
from services.web.features.orientations import preferences as preferences
from services.web.features.orientations import relay as relay
from services.web.features.orientations import routes as routes
