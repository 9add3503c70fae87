"""authorization_code + PKCE (S256 only), the French pages, the structure choice, refresh."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.auth.helpers import (
    REDIRECT_URI,
    authorize_code,
    authorize_params,
    browser,
    exchange_code,
    hidden_fields,
    login,
    make_account,
    make_app_client,
    pkce,
    unescape,
    user_tokens,
)
from tests.conftest import Relais
from tests.tokens import bearer


async def test_login_consent_and_tokens_for_the_chosen_structure(auth_relais: Relais) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    account = await make_account(auth_relais, memberships=[(first, "member"), (second, "admin")])
    client_id, _ = await make_app_client(auth_relais)
    b = browser(auth_relais)
    verifier, challenge = pkce()
    params = authorize_params(client_id, challenge, nonce="n-" + uuid.uuid4().hex)
    page = await b.get("/auth/authorize", params=params)
    assert page.status_code == 200
    assert "Connexion à Relais" in page.text
    assert 'lang="fr"' in page.text
    logged = await login(b, params, account.email, "une phrase de passe assez longue")
    assert logged.status_code == 303
    consent = await b.get(logged.headers["location"])
    assert "Pour quelle structure agissez-vous" in consent.text
    assert "demande à agir en votre nom" in consent.text  # a third-party application
    assert str(first) in consent.text
    assert str(second) in consent.text
    fields = {k: unescape(v) for k, v in hidden_fields(consent.text).items()}
    decided = await b.post(
        "/auth/authorize",
        data={**fields, "structure_id": str(second), "decision": "allow"},
    )
    assert decided.status_code == 302
    query = parse_qs(urlsplit(decided.headers["location"]).query)
    assert query["state"] == [params["state"]]
    tokens = await exchange_code(auth_relais.client, client_id, query["code"][0], verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["refresh_token"]
    jwks = KeySet.import_key_set((await b.get("/auth/.well-known/jwks.json")).json())
    claims = jwt.decode(body["access_token"], jwks).claims
    assert claims["sub"] == str(account.id)
    assert claims["sub"] != claims["client_id"]
    assert claims["structure_id"] == str(second)
    assert claims["roles"] == ["admin"]
    id_token = jwt.decode(body["id_token"], jwks)
    assert id_token.header["typ"] == "JWT"
    assert id_token.claims["aud"] == client_id
    assert id_token.claims["nonce"] == params["nonce"]
    # An ID token is no access token for the other services.
    verifier_ = auth_relais.app("auth").state.verifier
    caller = await verifier_.verify(body["access_token"])
    assert caller.kind == "user"
    assert caller.is_admin_of(second)
    assert not caller.is_member_of(first)
    refused = await auth_relais.client.get("/auth/userinfo", headers=bearer(body["id_token"]))
    assert refused.status_code == 401
    info = await auth_relais.client.get("/auth/userinfo", headers=bearer(body["access_token"]))
    assert info.status_code == 200
    assert info.json()["email"] == account.email
    assert info.json()["structure_id"] == str(second)
    await b.aclose()


async def test_member_cannot_act_for_a_structure_they_do_not_belong_to(
    auth_relais: Relais,
) -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    account = await make_account(auth_relais, memberships=[(mine, "admin")])
    client_id, _ = await make_app_client(auth_relais)
    b = browser(auth_relais)
    _, challenge = pkce()
    params = authorize_params(client_id, challenge)
    logged = await login(b, params, account.email, "une phrase de passe assez longue")
    consent = await b.get(logged.headers["location"])
    fields = {k: unescape(v) for k, v in hidden_fields(consent.text).items()}
    decided = await b.post(
        "/auth/authorize", data={**fields, "structure_id": str(other), "decision": "allow"}
    )
    assert decided.status_code == 403
    assert "membre de cette structure" in decided.text
    await b.aclose()
    # Nor by switching structure on refresh.
    tokens = await user_tokens(auth_relais, client_id, account.email)
    switched = await auth_relais.client.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
            "structure_id": str(other),
        },
    )
    assert switched.status_code == 400
    assert switched.json()["error"] == "invalid_grant"


async def test_switching_structure_issues_a_new_token(auth_relais: Relais) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    account = await make_account(auth_relais, memberships=[(first, "member"), (second, "member")])
    client_id, _ = await make_app_client(auth_relais)
    tokens = await user_tokens(auth_relais, client_id, account.email, first)
    switched = await auth_relais.client.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
            "structure_id": str(second),
        },
    )
    assert switched.status_code == 200, switched.text
    caller = await auth_relais.app("auth").state.verifier.verify(switched.json()["access_token"])
    assert caller.structure_id == second


async def test_denied_consent_redirects_with_access_denied(auth_relais: Relais) -> None:
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    client_id, _ = await make_app_client(auth_relais)
    b = browser(auth_relais)
    _, challenge = pkce()
    params = authorize_params(client_id, challenge)
    logged = await login(b, params, account.email, "une phrase de passe assez longue")
    consent = await b.get(logged.headers["location"])
    fields = {k: unescape(v) for k, v in hidden_fields(consent.text).items()}
    fields["structure_id"] = consent.text.split('name="structure_id" value="')[1].split('"')[0]
    decided = await b.post("/auth/authorize", data={**fields, "decision": "deny"})
    assert decided.status_code == 302
    assert "error=access_denied" in decided.headers["location"]
    await b.aclose()


@pytest.mark.parametrize(
    ("extra", "drop"),
    [
        ({}, ("code_challenge", "code_challenge_method")),
        ({"code_challenge_method": "plain"}, ()),
        ({}, ("code_challenge_method",)),
    ],
    ids=["missing", "plain", "no-method"],
)
async def test_pkce_is_required_with_s256(
    auth_relais: Relais, extra: dict[str, str], drop: tuple[str, ...]
) -> None:
    client_id, _ = await make_app_client(auth_relais)
    _, challenge = pkce()
    params = authorize_params(client_id, challenge, **extra)
    for key in drop:
        params.pop(key)
    response = await auth_relais.client.get("/auth/authorize", params=params)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    assert "error=invalid_request" in location


async def test_wrong_or_missing_verifier_is_refused_and_burns_the_code(
    auth_relais: Relais,
) -> None:
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    client_id, _ = await make_app_client(auth_relais)
    verifier, challenge = pkce()
    code, _ = await authorize_code(auth_relais, client_id, account.email, challenge=challenge)
    missing = await exchange_code(auth_relais.client, client_id, code, None)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    code, _ = await authorize_code(auth_relais, client_id, account.email, challenge=challenge)
    wrong, _ = pkce()
    refused = await exchange_code(auth_relais.client, client_id, code, wrong)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    # The code was consumed by the failed attempt: even the right verifier fails now.
    again = await exchange_code(auth_relais.client, client_id, code, verifier)
    assert again.status_code == 400


async def test_replayed_code_is_refused_and_revokes_its_tokens(auth_relais: Relais) -> None:
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    client_id, _ = await make_app_client(auth_relais)
    verifier, challenge = pkce()
    code, _ = await authorize_code(auth_relais, client_id, account.email, challenge=challenge)
    first = await exchange_code(auth_relais.client, client_id, code, verifier)
    assert first.status_code == 200
    replay = await exchange_code(auth_relais.client, client_id, code, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    tokens = first.json()
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
    info = await auth_relais.client.get("/auth/userinfo", headers=bearer(tokens["access_token"]))
    assert info.status_code == 401
    introspection = await auth_relais.client.post(
        "/auth/introspect", data={"token": tokens["access_token"], "client_id": client_id}
    )
    assert introspection.json() == {"active": False}


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.org/callback",
        "https://app.example.org/callback/extra",
        "https://app.example.org/callbac",
        "https://app.example.org/callback?x=1",
        "http://app.example.org/callback",
    ],
)
async def test_unregistered_redirect_uri_is_never_redirected_to(
    auth_relais: Relais, redirect_uri: str
) -> None:
    client_id, _ = await make_app_client(auth_relais)
    _, challenge = pkce()
    params = authorize_params(client_id, challenge, redirect_uri=redirect_uri)
    response = await auth_relais.client.get("/auth/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "Demande d’autorisation invalide" in response.text


async def test_unknown_client_and_bad_response_type(auth_relais: Relais) -> None:
    _, challenge = pkce()
    unknown = await auth_relais.client.get(
        "/auth/authorize", params=authorize_params("rls_nobody", challenge)
    )
    assert unknown.status_code == 400
    client_id, _ = await make_app_client(auth_relais)
    token_type = await auth_relais.client.get(
        "/auth/authorize", params=authorize_params(client_id, challenge, response_type="token")
    )
    assert token_type.status_code == 302
    assert "error=unsupported_response_type" in token_type.headers["location"]


async def test_refresh_rotation_reuse_revokes_the_family(auth_relais: Relais) -> None:
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    client_id, _ = await make_app_client(auth_relais)
    tokens = await user_tokens(auth_relais, client_id, account.email)

    async def refresh(token: str) -> dict[str, object]:
        response = await auth_relais.client.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id},
        )
        return {"status": response.status_code, **response.json()}

    second = await refresh(tokens["refresh_token"])
    assert second["status"] == 200
    assert second["refresh_token"] != tokens["refresh_token"]
    reused = await refresh(tokens["refresh_token"])
    assert reused["status"] == 400
    assert reused["error"] == "invalid_grant"
    # The whole family is revoked: the newest refresh token and its access token too.
    newest = await refresh(str(second["refresh_token"]))
    assert newest["status"] == 400
    info = await auth_relais.client.get(
        "/auth/userinfo", headers=bearer(str(second["access_token"]))
    )
    assert info.status_code == 401


async def test_scope_escalation_on_refresh_is_refused_without_burning_the_token(
    auth_relais: Relais,
) -> None:
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    client_id, _ = await make_app_client(auth_relais)
    verifier, challenge = pkce()
    code, _ = await authorize_code(
        auth_relais, client_id, account.email, challenge=challenge, scope="openid"
    )
    tokens = (await exchange_code(auth_relais.client, client_id, code, verifier)).json()
    escalated = await auth_relais.client.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
            "scope": "openid email",
        },
    )
    assert escalated.status_code == 400
    assert escalated.json()["error"] == "invalid_scope"
    fine = await auth_relais.client.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert fine.status_code == 200
    assert fine.json()["scope"] == "openid"


async def test_confidential_app_client_authenticates_at_the_token_endpoint(
    auth_relais: Relais,
) -> None:
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    client_id, secret = await make_app_client(auth_relais, public=False)
    assert secret
    verifier, challenge = pkce()
    code, _ = await authorize_code(auth_relais, client_id, account.email, challenge=challenge)
    unauthenticated = await exchange_code(auth_relais.client, client_id, code, verifier)
    assert unauthenticated.status_code in (400, 401)
    assert unauthenticated.json()["error"] == "invalid_client"
    code, _ = await authorize_code(auth_relais, client_id, account.email, challenge=challenge)
    ok = await exchange_code(auth_relais.client, client_id, code, verifier, secret=secret)
    assert ok.status_code == 200, ok.text
