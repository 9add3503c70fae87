"""client_credentials: real tokens from the auth service, verified by the kernel via JWKS."""

from __future__ import annotations

import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from services.kernel.problems import ProblemError
from tests.auth.helpers import client_token, make_client
from tests.conftest import Relais


async def test_discovery_and_jwks(auth_relais: Relais) -> None:
    http = auth_relais.client
    config = (await http.get("/auth/.well-known/openid-configuration")).json()
    issuer = auth_relais.settings.jwt_issuer
    assert config["issuer"] == issuer
    assert config["token_endpoint"] == f"{issuer}/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    jwks = (await http.get("/auth/.well-known/jwks.json")).json()
    assert jwks["keys"]
    assert all("d" not in key for key in jwks["keys"])
    assert {key["alg"] for key in jwks["keys"]} == {"ES256"}


async def test_client_credentials_token_is_rfc9068_and_verified_by_other_services(
    auth_relais: Relais,
) -> None:
    structure = uuid.uuid4()
    client_id, secret = await make_client(
        auth_relais, structure, ["directory:read", "directory:write"]
    )
    assert secret
    response = await client_token(auth_relais.client, client_id, secret)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert "refresh_token" not in body
    jwks = (await auth_relais.client.get("/auth/.well-known/jwks.json")).json()
    decoded = jwt.decode(body["access_token"], KeySet.import_key_set(jwks))
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["alg"] == "ES256"
    claims = decoded.claims
    assert claims["iss"] == auth_relais.settings.jwt_issuer
    assert claims["aud"] == auth_relais.settings.jwt_audience
    assert claims["sub"] == claims["client_id"] == client_id
    assert claims["structure_id"] == str(structure)
    assert claims["roles"] == []
    assert set(claims["scope"].split()) == {"directory:read", "directory:write"}
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]
    # The directory's verifier fetches the auth JWKS (in-process) and accepts the token.
    caller = await auth_relais.app("auth").state.verifier.verify(body["access_token"])
    assert caller.kind == "client"
    assert caller.structure_id == structure
    assert caller.client_id == client_id


async def test_client_credentials_with_post_auth_and_narrower_scope(auth_relais: Relais) -> None:
    client_id, secret = await make_client(
        auth_relais, uuid.uuid4(), ["directory:read", "referrals:read"]
    )
    response = await auth_relais.client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "directory:read",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "directory:read"


@pytest.mark.parametrize(
    ("scope", "error"),
    [("directory:write", "invalid_scope"), ("admin:everything", "invalid_scope")],
)
async def test_scope_beyond_the_client_is_refused(
    auth_relais: Relais, scope: str, error: str
) -> None:
    client_id, secret = await make_client(auth_relais, uuid.uuid4(), ["directory:read"])
    assert secret
    response = await client_token(auth_relais.client, client_id, secret, scope)
    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_wrong_secret_and_unknown_client_are_invalid_client(auth_relais: Relais) -> None:
    client_id, _ = await make_client(auth_relais, uuid.uuid4(), ["directory:read"])
    for cid, secret in ((client_id, "wrong"), ("rls_unknown", "whatever")):
        response = await client_token(auth_relais.client, cid, secret)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert "www-authenticate" in response.headers


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": {"grant_type": "password", "username": "a", "password": "b"}},
        {"data": {}},
        {"json": {"grant_type": "client_credentials"}},
        {
            "content": b"\xff\xfe\x00garbage",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
        {"data": {"grant_type": "client_credentials"}, "headers": {"authorization": "Basic %%%"}},
        {"data": {"grant_type": "client_credentials"}, "headers": {"authorization": "Basic /w=="}},
    ],
)
async def test_malformed_token_requests_get_rfc6749_errors(
    auth_relais: Relais, request_kwargs: dict[str, object]
) -> None:
    response = await auth_relais.client.post("/auth/token", **request_kwargs)  # type: ignore[arg-type]
    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json()


async def test_revoked_client_gets_no_token_and_its_tokens_turn_inactive(
    auth_relais: Relais,
) -> None:
    import sqlalchemy as sa

    from services.auth.models import Client
    from services.auth.store import clients

    client_id, secret = await make_client(auth_relais, uuid.uuid4(), ["directory:read"])
    assert secret
    token = (await client_token(auth_relais.client, client_id, secret)).json()["access_token"]
    db = auth_relais.app("auth").state.db
    async with db.session() as session:
        client = (
            await session.scalars(sa.select(Client).where(Client.client_id == client_id))
        ).one()
        await clients.revoke_client(session, client)
    refused = await client_token(auth_relais.client, client_id, secret)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    # Introspection by the (revoked) client itself is refused; the token is dead for auth.
    introspected = await auth_relais.client.post(
        "/auth/introspect", data={"token": token}, auth=(client_id, secret)
    )
    assert introspected.status_code == 401


async def test_verifier_refuses_garbage(auth_relais: Relais) -> None:
    verifier = auth_relais.app("auth").state.verifier
    for token in ("a.b.c", "not-a-jwt", "ey.ey.ey"):
        with pytest.raises(ProblemError) as info:
            await verifier.verify(token)
        assert info.value.status_code == 401
