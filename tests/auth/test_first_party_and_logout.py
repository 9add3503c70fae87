"""The deployment's own staff app (first-party: no consent page) and OpenID Connect
RP-Initiated Logout at /auth/end-session."""

from __future__ import annotations

import secrets
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx

from services.auth import store
from tests.auth.helpers import (
    REDIRECT_URI,
    authorize_params,
    browser,
    exchange_code,
    hidden_fields,
    login,
    make_account,
    make_app_client,
    pkce,
    unescape,
)
from tests.conftest import Relais

SIGNED_OUT = "https://app.example.org/au-revoir"


async def first_party_client(relais: Relais) -> tuple[str, str]:
    client_id, secret = f"first-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(24)
    async with relais.app("auth").state.db.session() as session:
        await store.register_first_party_client(
            session,
            client_id=client_id,
            secret=secret,
            name="Relais (application des agents)",
            scopes=["openid", "profile", "email"],
            redirect_uris=[REDIRECT_URI],
            post_logout_redirect_uris=[SIGNED_OUT],
        )
    return client_id, secret


async def signed_in(
    relais: Relais, client_id: str, secret: str, structures: int = 1
) -> tuple[httpx.AsyncClient, str, httpx.Response]:
    """A browser signed in at auth through the first-party client: (browser, ID token, the
    answer of /auth/authorize after the login)."""
    account = await make_account(
        relais, memberships=[(uuid.uuid4(), "admin") for _ in range(structures)]
    )
    b = browser(relais)
    verifier, challenge = pkce()
    params = authorize_params(client_id, challenge, nonce="n")
    logged = await login(b, params, account.email, "une phrase de passe assez longue")
    answer = await b.get(logged.headers["location"])
    if structures > 1:
        return b, "", answer
    assert answer.status_code == 302, answer.text  # straight back with a code
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    tokens = await exchange_code(
        relais.client, client_id, query["code"][0], verifier, secret=secret
    )
    assert tokens.status_code == 200, tokens.text
    return b, tokens.json()["id_token"], answer


async def test_first_party_client_asks_no_consent(auth_relais: Relais) -> None:
    client_id, secret = await first_party_client(auth_relais)
    b, id_token, answer = await signed_in(auth_relais, client_id, secret)
    assert answer.headers["location"].startswith(REDIRECT_URI)
    assert id_token
    await b.aclose()
    # Someone in two structures still chooses one, but is asked no authorisation.
    b, _, page = await signed_in(auth_relais, client_id, secret, structures=2)
    assert page.status_code == 200
    assert "choisissez celle pour laquelle vous agissez" in page.text
    assert "demande à agir en votre nom" not in page.text
    assert 'value="deny"' not in page.text
    await b.aclose()
    # A client created through the API is never first-party: it shows the consent page.
    third_party, _ = await make_app_client(auth_relais)
    b = browser(auth_relais)
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "admin")])
    _, challenge = pkce()
    logged = await login(
        b,
        authorize_params(third_party, challenge),
        account.email,
        "une phrase de passe assez longue",
    )
    consent = await b.get(logged.headers["location"])
    assert "demande à agir en votre nom" in consent.text
    await b.aclose()


async def test_discovery_names_the_end_session_endpoint(auth_relais: Relais) -> None:
    found = (await auth_relais.client.get("/auth/.well-known/openid-configuration")).json()
    assert found["end_session_endpoint"] == found["issuer"] + "/end-session"


async def test_rp_initiated_logout_ends_the_sign_in_and_comes_back(auth_relais: Relais) -> None:
    client_id, secret = await first_party_client(auth_relais)
    b, id_token, _ = await signed_in(auth_relais, client_id, secret)
    out = await b.get(
        "/auth/end-session",
        params={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": SIGNED_OUT,
            "state": "s-1",
        },
    )
    assert out.status_code == 303, out.text
    assert out.headers["location"] == f"{SIGNED_OUT}?state=s-1"
    # Signing in again asks for the password: the login page, not a code.
    _, challenge = pkce()
    again = await b.get("/auth/authorize", params=authorize_params(client_id, challenge))
    assert again.status_code == 200
    assert 'name="password"' in again.text
    await b.aclose()


async def test_end_session_refuses_what_it_cannot_trust(auth_relais: Relais) -> None:
    client_id, secret = await first_party_client(auth_relais)
    b, id_token, _ = await signed_in(auth_relais, client_id, secret)
    # An unregistered return address: refused on a page, never followed.
    elsewhere = await b.get(
        "/auth/end-session",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/"},
    )
    assert elsewhere.status_code == 400
    assert "location" not in elsewhere.headers
    # A forged hint, or one for another client.
    forged = await b.get("/auth/end-session", params={"id_token_hint": id_token[:-4] + "AAAA"})
    assert forged.status_code == 400
    other = await b.get(
        "/auth/end-session", params={"id_token_hint": id_token, "client_id": "someone-else"}
    )
    assert other.status_code == 400
    # Without a hint (a link from anywhere), the person confirms first; still signed in.
    asked = await b.get(
        "/auth/end-session", params={"client_id": client_id, "post_logout_redirect_uri": SIGNED_OUT}
    )
    assert asked.status_code == 200
    assert "Se déconnecter de Relais ?" in asked.text
    _, challenge = pkce()
    still = await b.get("/auth/authorize", params=authorize_params(client_id, challenge))
    assert still.status_code == 302
    # Confirmed through the page's form (with its CSRF token): signed out, sent back.
    fields = {k: unescape(v) for k, v in hidden_fields(asked.text).items()}
    confirmed = await b.post("/auth/end-session", data=fields)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == SIGNED_OUT
    gone = await b.get("/auth/authorize", params=authorize_params(client_id, challenge))
    assert gone.status_code == 200
    assert 'name="password"' in gone.text
    await b.aclose()
