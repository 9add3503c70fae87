"""SSRF guard: webhook URLs must be public HTTPS endpoints (unless settings allow otherwise).

The URL is checked when a subscription is saved, and the host is resolved again before each
delivery. The request is then sent to the checked address itself (Host header and TLS SNI keep
the name), so a DNS answer that changes between check and connect (rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from services.kernel.settings import Settings


class UnsafeURL(ValueError):
    """The URL may not receive webhooks; the message says why (French, for the API)."""


def check_url(url: str, settings: Settings) -> None:
    """Static checks of a subscription URL (scheme, host, no credentials)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL("adresse invalide") from exc
    if parts.scheme not in ("https", "http"):
        raise UnsafeURL("seules les adresses https:// sont acceptées")
    if parts.scheme == "http" and settings.production:
        raise UnsafeURL("https:// est obligatoire en production")
    if not parts.hostname:
        raise UnsafeURL("l'adresse doit nommer un hôte")
    if parts.username or parts.password:
        raise UnsafeURL("l'adresse ne doit pas contenir d'identifiants")
    if port == 0:
        raise UnsafeURL("port invalide")
    if len(url) > 2000:
        raise UnsafeURL("adresse trop longue (2000 caractères au plus)")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        if (
            parts.hostname.lower()
            in (
                "localhost",
                "localhost.localdomain",
            )
            or parts.hostname.lower().endswith(".localhost")
        ) and not settings.webhook_allow_private:
            raise UnsafeURL("adresse locale refusée") from None
        return
    _check_address(address, settings)


def _check_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, settings: Settings
) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if settings.webhook_allow_private:
        if address.is_multicast or address.is_unspecified:
            raise UnsafeURL("adresse non routable refusée")
        return
    if (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        raise UnsafeURL("adresse privée, locale ou réservée refusée")


@dataclass(frozen=True)
class Target:
    """Where to connect: the URL rewritten to the checked IP, plus the original host name."""

    url: str
    host_header: str
    sni_hostname: str | None


async def resolve(url: str, settings: Settings) -> Target:
    """Resolve the host, check every address it has, and pin the connection to one of them."""
    check_url(url, settings)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURL("nom d'hôte introuvable") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise UnsafeURL("nom d'hôte introuvable")
    for address in addresses:
        _check_address(address, settings)
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(pinned, host_header, host if parts.scheme == "https" else None)
