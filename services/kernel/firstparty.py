"""The web app's OpenID Connect client: one identity shared by the two sides that need it.

``relais migrate`` registers it at auth (confidential, first-party, authorization code + PKCE,
redirect and post-logout URIs derived from RELAIS_BASE_URL); the web service authenticates with
the same secret at the token endpoint. The secret is WEB_CLIENT_SECRET, or outside production a
random value kept in a file under RELAIS_HOME/keys (created once, readable by the owner only).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from services.kernel.settings import Settings, SettingsError

WEB_CLIENT_ID = "relais-web"
WEB_CLIENT_NAME = "Relais (application des agents)"
WEB_SCOPES = ("openid", "profile", "email")
CALLBACK_PATH = "/connexion/retour"
SIGNED_OUT_PATH = "/au-revoir"
SECRET_FILE = Path("keys") / "web-client.secret"


def web_redirect_uri(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + CALLBACK_PATH


def web_signed_out_uri(settings: Settings) -> str:
    """Where auth sends the browser back after ending the sign-in (RP-initiated logout)."""
    return settings.base_url.rstrip("/") + SIGNED_OUT_PATH


def web_client_secret(settings: Settings) -> str:
    if settings.web_client_secret:
        return settings.web_client_secret
    if settings.production:
        raise SettingsError("WEB_CLIENT_SECRET must be set in production")
    path = settings.home / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32))
        # Two processes racing: the first file to land wins, both read it back.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text(encoding="utf-8").strip()
