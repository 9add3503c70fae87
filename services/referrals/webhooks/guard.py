"""SSRF guard: webhook URLs must be public HTTPS endpoints (unless settings allow otherwise).

The URL is checked when a subscription is saved, and the host is resolved again before each
delivery; both read the host through ``normalise_host``, as a resolver would (``127.1``,
``2130706433``, ``LOCALHOST.``, IPv6 forms embedding an IPv4 address…). The request is then
sent to the checked address itself (Host header and TLS SNI keep the name), so a DNS answer that
changes between check and connect (rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from services.kernel.settings import Settings


class UnsafeURL(ValueError):
    """The URL may not receive webhooks; the message says why (French, for the API)."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOCAL_NAMES = ("localhost", "localhost.localdomain")
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, IPv4-compatible).
_V4_IN_LAST_32 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


def normalise_host(host: str) -> str | IPAddress:
    """The host as a resolver reads it: percent-decoded, without trailing dots, lower-cased and
    IDNA-mapped (so ``LOCALHOST.`` or full-width letters are ``localhost``); an address in any
    form the system resolver accepts (``127.1``, ``0x7f000001``, ``2130706433``, ``0177.0.0.1``,
    IPv6) is returned as an address. Creation and delivery both check this, never the raw text."""
    name = unquote(host).rstrip(".")
    try:
        name = name.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise UnsafeURL("nom d'hôte invalide") from exc
    if not name:
        raise UnsafeURL("l'adresse doit nommer un hôte")
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    try:  # the legacy IPv4 forms getaddrinfo resolves (inet_aton's grammar)
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return name


def check_url(url: str, settings: Settings) -> str | IPAddress:
    """Static checks of a subscription URL (scheme, host, no credentials); returns the
    normalised host."""
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
    host = normalise_host(parts.hostname)
    if isinstance(host, str):
        if (host in LOCAL_NAMES or host.endswith(".localhost")) and (
            not settings.webhook_allow_private
        ):
            raise UnsafeURL("adresse locale refusée")
    else:
        _check_address(host, settings)
    return host


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64, compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address != ipaddress.IPv6Address("::") and any(address in n for n in _V4_IN_LAST_32):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _check_address(address: IPAddress, settings: Settings) -> None:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            _check_address(embedded, settings)
            if address.ipv4_mapped is not None:
                return
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
    host = check_url(url, settings)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if isinstance(host, str):
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise UnsafeURL("nom d'hôte introuvable") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    else:
        addresses = [host]
    if not addresses:
        raise UnsafeURL("nom d'hôte introuvable")
    for address in addresses:
        _check_address(address, settings)
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    sni = host if isinstance(host, str) and parts.scheme == "https" else None
    return Target(pinned, host_header, sni)
