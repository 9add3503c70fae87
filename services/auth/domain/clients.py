"""Rules of client registration: which grant, which scopes, which redirect URIs (pure)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

from services.kernel.errors import FieldError

USER_SCOPES = ("openid", "profile", "email")


@dataclass(frozen=True)
class ClientPlan:
    grant_types: list[str]
    scopes: list[str]
    redirect_uris: list[str]
    public: bool


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_problem(uri: str) -> str | None:
    """Why a redirect URI is refused (RFC 6749 §3.1.2, OAuth 2.0 Security BCP), or None."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:
        return "adresse invalide"
    if parts.scheme not in ("https", "http") or not host:
        return "adresse absolue en https:// attendue"
    if parts.scheme == "http" and not _loopback(host):
        return "https:// obligatoire (http:// seulement sur la machine locale)"
    if parts.fragment or "#" in uri:
        return "pas de fragment (#…) dans une adresse de retour"
    if any(c.isspace() for c in uri):
        return "espaces interdits"
    return None


def plan_client(
    grant_type: str,
    scopes: list[str],
    redirect_uris: list[str],
    public: bool,
    api_scopes: Collection[str],
) -> ClientPlan | list[FieldError]:
    """The client to register, or the fields at fault (``api_scopes``: the known API scopes)."""
    errors: list[FieldError] = []
    if grant_type == "client_credentials":
        wanted = sorted(set(scopes))
        if not wanted:
            errors.append(FieldError("scopes", "au moins une portée"))
        for scope in wanted:
            if scope not in api_scopes:
                errors.append(FieldError("scopes", f"portée inconnue : {scope}"))
        if redirect_uris:
            errors.append(FieldError("redirect_uris", "réservé au type authorization_code"))
        if public:
            errors.append(FieldError("public", "un client client_credentials a un secret"))
        if errors:
            return errors
        return ClientPlan(["client_credentials"], wanted, [], False)
    wanted = sorted(set(scopes)) or list(USER_SCOPES)
    for scope in wanted:
        if scope not in USER_SCOPES:
            errors.append(
                FieldError(
                    "scopes",
                    f"portée non permise ici : {scope} (les droits viennent du rôle de la "
                    "personne ; portées possibles : openid profile email)",
                )
            )
    if not redirect_uris:
        errors.append(FieldError("redirect_uris", "au moins une adresse de retour"))
    for index, uri in enumerate(redirect_uris):
        problem = redirect_uri_problem(uri)
        if problem:
            errors.append(FieldError(f"redirect_uris[{index}]", problem))
    if errors:
        return errors
    return ClientPlan(
        ["authorization_code", "refresh_token"], wanted, list(dict.fromkeys(redirect_uris)), public
    )
