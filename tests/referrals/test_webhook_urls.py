"""A webhook URL naming a loopback, private or reserved address in any spelling a resolver
accepts is refused when the subscription is created, and by the delivery guard, through one
normalisation (``guard.normalise_host``)."""

from __future__ import annotations

import ipaddress

import pytest

from services.kernel.settings import load_settings
from services.referrals.webhooks import guard
from tests.referrals.conftest import World

LOOPBACK_SPELLINGS = [
    "http://2130706433/x",  # 127.0.0.1 as one decimal number
    "http://0x7f000001/x",  # … as one hexadecimal number
    "http://0x7f.1/x",
    "http://127.1/x",  # short dotted forms
    "http://0177.0.0.1/x",  # octal
    "http://127.0.0.1./x",  # trailing dot
    "http://LOCALHOST./x",
    "http://LocalHost/x",
    "http://api.localhost/x",
    "http://%6c%6f%63%61%6c%68%6f%73%74/x",  # percent-encoded
    "http://ｌｏｃａｌｈｏｓｔ/x",  # full-width letters (IDNA maps them)
    "http://[::1]/x",
    "http://[0:0:0:0:0:0:0:1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://[::ffff:7f00:1]/x",
    "http://[::127.0.0.1]/x",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]/x",  # NAT64
    "http://[2002:7f00:1::]/x",  # 6to4
    "http://[2002:a9fe:a9fe::]/latest/meta-data",  # 6to4 of 169.254.169.254
    "http://[fe80::1%25eth0]/x",  # link-local with a zone
    "http://0/x",  # 0.0.0.0
    "http://10.1/x",  # 10.0.0.1
    "http://0xa9fea9fe/latest/meta-data",  # 169.254.169.254
]


@pytest.mark.parametrize("url", LOOPBACK_SPELLINGS)
async def test_delivery_guard_refuses_every_spelling(url: str) -> None:
    strict = load_settings(environ={})
    with pytest.raises(guard.UnsafeURL):
        guard.check_url(url, strict)
    with pytest.raises(guard.UnsafeURL):
        await guard.resolve(url, strict)


def test_normalised_host_is_what_a_resolver_reads() -> None:
    loopback = ipaddress.IPv4Address("127.0.0.1")
    for spelling in ("2130706433", "0x7f000001", "127.1", "0177.0.0.1", "127.0.0.1."):
        assert guard.normalise_host(spelling) == loopback
    assert guard.normalise_host("LOCALHOST.") == "localhost"
    assert guard.normalise_host("Hooks.Example.ORG.") == "hooks.example.org"
    assert guard.normalise_host("1.2.3") == ipaddress.IPv4Address("1.2.0.3")


async def test_public_addresses_still_pass() -> None:
    strict = load_settings(environ={})
    for url in ("https://93.184.215.14/x", "https://[2606:4700::6810:84e5]/x"):
        guard.check_url(url, strict)
        target = await guard.resolve(url, strict)
        assert target.host_header in url
    guard.check_url("https://hooks.example.org./x", strict)


async def test_creation_refuses_every_spelling(world: World) -> None:
    org = await world.org("Abonné")
    refused = 0
    for url in LOOPBACK_SPELLINGS:
        response = await world.client.post(
            "/referrals/v1/webhooks", json={"url": url}, headers=org.admin
        )
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == ["url"], response.text
        refused += 1
    assert refused == len(LOOPBACK_SPELLINGS)
    listed = await world.client.get("/referrals/v1/webhooks", headers=org.admin)
    assert listed.json() == []
