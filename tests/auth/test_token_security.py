"""Forged, expired, misdirected tokens all fail closed with 401 problem+json."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from tests.auth.helpers import client_token, make_account, make_app_client, make_client, user_tokens
from tests.conftest import Relais
from tests.tokens import bearer


def _b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def _real_token(relais: Relais) -> str:
    client_id, secret = await make_client(relais, uuid.uuid4(), ["directory:read"])
    assert secret
    token: str = (await client_token(relais.client, client_id, secret)).json()["access_token"]
    return token


async def _private_key(relais: Relais) -> ECKey:
    db = relais.app("auth").state.db
    async with db.session() as session:
        snapshot = await relais.app("auth").state.keyring.snapshot(session)
    key: ECKey = snapshot.signer.key
    return key


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
    )


async def _assert_refused(relais: Relais, token: str) -> None:
    response = await relais.client.get("/auth/v1/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401
    assert "invalid_token" in response.headers.get("www-authenticate", "")


async def test_alg_none_is_refused(auth_relais: Relais) -> None:
    header, claims = _parts(await _real_token(auth_relais))
    forged = f"{_b64({**header, 'alg': 'none'})}.{_b64(claims)}."
    await _assert_refused(auth_relais, forged)


async def test_hs256_signed_with_the_public_key_is_refused(auth_relais: Relais) -> None:
    header, claims = _parts(await _real_token(auth_relais))
    jwks = (await auth_relais.client.get("/auth/.well-known/jwks.json")).json()
    public = json.dumps(jwks["keys"][0]).encode()
    key = OctKey.import_key(public)
    forged = jwt.encode(
        {"alg": "HS256", "kid": header["kid"], "typ": "at+jwt"},
        claims,
        key,
        algorithms=["HS256"],
    )
    await _assert_refused(auth_relais, forged)


async def test_tampered_payload_is_refused(auth_relais: Relais) -> None:
    token = await _real_token(auth_relais)
    header_b64, _, signature = token.split(".")
    _, claims = _parts(token)
    claims["structure_id"] = str(uuid.uuid4())
    await _assert_refused(auth_relais, f"{header_b64}.{_b64(claims)}.{signature}")


async def test_unknown_kid_and_foreign_key_are_refused(auth_relais: Relais) -> None:
    header, claims = _parts(await _real_token(auth_relais))
    foreign = ECKey.generate_key("P-256")
    for kid in (header["kid"], "unknown-kid"):
        forged = jwt.encode({"alg": "ES256", "kid": kid, "typ": "at+jwt"}, claims, foreign)
        await _assert_refused(auth_relais, forged)


@pytest.mark.parametrize(
    "change",
    [
        {"exp": -120, "iat": -1000},  # expired beyond the leeway
        {"nbf": 600},  # not yet valid
        {"iat": 600},  # issued in the future
        {"iss": "https://evil.example.org/auth"},
        {"aud": "another-api"},
        {"sub": None},
        {"exp": None},
    ],
    ids=["expired", "nbf", "iat-future", "iss", "aud", "no-sub", "no-exp"],
)
async def test_claims_are_checked(auth_relais: Relais, change: dict[str, Any]) -> None:
    header, claims = _parts(await _real_token(auth_relais))
    now = int(time.time())
    for name, value in change.items():
        if value is None:
            claims.pop(name)
        elif name in {"exp", "nbf", "iat"}:
            claims[name] = now + int(value)
        else:
            claims[name] = value
    # Signed with the real key: only the claim itself is wrong.
    forged = jwt.encode(header, claims, await _private_key(auth_relais))
    await _assert_refused(auth_relais, forged)


async def test_small_clock_skew_is_tolerated(auth_relais: Relais) -> None:
    header, claims = _parts(await _real_token(auth_relais))
    claims["nbf"] = int(time.time()) + 10  # within JWT_LEEWAY_SECONDS (30)
    token = jwt.encode(header, claims, await _private_key(auth_relais))
    caller = await auth_relais.app("auth").state.verifier.verify(token)
    assert caller.kind == "client"


async def test_id_token_typ_is_not_an_access_token(auth_relais: Relais) -> None:
    header, claims = _parts(await _real_token(auth_relais))
    forged = jwt.encode({**header, "typ": "JWT"}, claims, await _private_key(auth_relais))
    await _assert_refused(auth_relais, forged)


async def test_disabled_account_token_and_refresh_stop_working(auth_relais: Relais) -> None:
    structure = uuid.uuid4()
    account = await make_account(auth_relais, memberships=[(structure, "member")])
    moderator = await make_account(auth_relais, moderator=True)
    client_id, _ = await make_app_client(auth_relais)
    tokens = await user_tokens(auth_relais, client_id, account.email)
    mod_tokens = await user_tokens(auth_relais, client_id, moderator.email)
    me = await auth_relais.client.get("/auth/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    disabled = await auth_relais.client.patch(
        f"/auth/v1/accounts/{account.id}",
        json={"status": "disabled"},
        headers=bearer(mod_tokens["access_token"]),
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    await _assert_refused(auth_relais, tokens["access_token"])
    info = await auth_relais.client.get("/auth/userinfo", headers=bearer(tokens["access_token"]))
    assert info.status_code == 401
    refresh = await auth_relais.client.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"
    introspected = await auth_relais.client.post(
        "/auth/introspect", data={"token": tokens["access_token"], "client_id": client_id}
    )
    assert introspected.json() == {"active": False}


async def test_only_moderators_disable_accounts(auth_relais: Relais) -> None:
    structure = uuid.uuid4()
    admin = await make_account(auth_relais, memberships=[(structure, "admin")])
    victim = await make_account(auth_relais, memberships=[(structure, "member")])
    client_id, _ = await make_app_client(auth_relais)
    tokens = await user_tokens(auth_relais, client_id, admin.email)
    response = await auth_relais.client.patch(
        f"/auth/v1/accounts/{victim.id}",
        json={"status": "disabled"},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
