"""Login through an upstream OpenID Connect provider (ProConnect-like), served for real."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.auth.conftest import start_services
from tests.auth.helpers import (
    authorize_params,
    browser,
    exchange_code,
    hidden_fields,
    make_account,
    make_app_client,
    pkce,
    unescape,
    unique_email,
)
from tests.auth.oidc_provider import RunningProvider
from tests.conftest import BACKENDS, Relais
from tests.tokens import TokenFactory


@pytest.fixture(scope="module")
def provider() -> Iterator[RunningProvider]:
    with RunningProvider() as running:
        running.state.redirect_uris = ["http://testserver/auth/federation/callback"]
        yield running


@pytest.fixture(scope="module", params=BACKENDS)
async def fed_relais(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tokens: TokenFactory,
    provider: RunningProvider,
) -> AsyncIterator[Relais]:
    home: Path = tmp_path_factory.mktemp(f"fed-{request.param}")
    system_under_test, stack = await start_services(
        request.param,
        home,
        tokens,
        auth_upstream_issuer=provider.state.issuer,
        auth_upstream_client_id=provider.state.client_id,
        auth_upstream_client_secret=provider.state.client_secret,
    )
    async with stack:
        yield system_under_test


def _person(email: str) -> dict[str, str]:
    return {
        "sub": f"pc-{uuid.uuid4().hex}",
        "email": email,
        "given_name": "Dominique",
        "usual_name": "Durand",
        "siret": "21750001600019",
    }


VERIFIERS: dict[str, str] = {}


async def _upstream_login(relais: Relais, b: httpx.AsyncClient, client_id: str) -> httpx.Response:
    """From the login page's ProConnect button to our authorization page."""
    verifier, challenge = pkce()
    VERIFIERS[client_id] = verifier
    params = authorize_params(client_id, challenge)
    page = await b.get("/auth/authorize", params=params)
    assert "S’identifier avec ProConnect" in page.text
    next_url = unescape(hidden_fields(page.text)["next"])
    start = await b.get("/auth/federation/start", params={"next": next_url})
    assert start.status_code == 303
    async with httpx.AsyncClient() as real:  # a real HTTP hop to the provider
        upstream = await real.get(start.headers["location"])
    assert upstream.status_code == 302, upstream.text
    callback = urlsplit(upstream.headers["location"])
    return await b.get(f"{callback.path}?{callback.query}")


async def _finish(
    b: httpx.AsyncClient, relais: Relais, location: str, client_id: str
) -> dict[str, str]:
    consent = await b.get(location)
    assert consent.status_code == 200, consent.text
    fields = {k: unescape(v) for k, v in hidden_fields(consent.text).items()}
    fields["structure_id"] = consent.text.split('name="structure_id" value="')[1].split('"')[0]
    decided = await b.post("/auth/authorize", data={**fields, "decision": "allow"})
    query = {k: v[0] for k, v in parse_qs(urlsplit(decided.headers["location"]).query).items()}
    return query


async def test_invited_person_logs_in_through_the_provider(
    fed_relais: Relais, provider: RunningProvider
) -> None:
    structure = uuid.uuid4()
    admin = await make_account(fed_relais, memberships=[(structure, "admin")])
    email = unique_email("proconnect")
    db = fed_relais.app("auth").state.db
    from services.auth.store import invitations

    async with db.session() as session:
        await invitations.create_invitation(
            session, email=email, structure_id=structure, role="member", invited_by=admin.id
        )
    provider.state.user = _person(email)
    client_id, _ = await make_app_client(fed_relais)
    async with browser(fed_relais) as b:
        arrived = await _upstream_login(fed_relais, b, client_id)
        assert arrived.status_code == 303, arrived.text
        # ProConnect's demands on the request we sent it.
        sent = provider.state.authorize_requests[-1]
        assert len(sent["state"]) >= 32
        assert len(sent["nonce"]) >= 32
        assert sent["scope"] == "openid given_name usual_name email siret"
        query = await _finish(b, fed_relais, arrived.headers["location"], client_id)
    tokens = await exchange_code(fed_relais.client, client_id, query["code"], VERIFIERS[client_id])
    assert tokens.status_code == 200, tokens.text
    caller = await fed_relais.app("auth").state.verifier.verify(tokens.json()["access_token"])
    assert caller.is_member_of(structure)
    info = await fed_relais.client.get(
        "/auth/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert info.json()["email"] == email
    assert info.json()["name"] == "Dominique Durand"


async def test_existing_account_is_linked_by_verified_email(
    fed_relais: Relais, provider: RunningProvider
) -> None:
    structure = uuid.uuid4()
    account = await make_account(fed_relais, memberships=[(structure, "member")])
    person = _person(account.email)
    provider.state.user = person
    client_id, _ = await make_app_client(fed_relais)
    async with browser(fed_relais) as b:
        arrived = await _upstream_login(fed_relais, b, client_id)
        assert arrived.status_code == 303, arrived.text
    # Linked by subject: a later login works even if the upstream e-mail changed.
    provider.state.user = {**person, "email": unique_email("autre")}
    async with browser(fed_relais) as b:
        again = await _upstream_login(fed_relais, b, client_id)
        assert again.status_code == 303, again.text


async def test_unknown_person_is_refused(fed_relais: Relais, provider: RunningProvider) -> None:
    provider.state.user = _person(unique_email("inconnu"))
    client_id, _ = await make_app_client(fed_relais)
    async with browser(fed_relais) as b:
        refused = await _upstream_login(fed_relais, b, client_id)
    assert refused.status_code == 403
    assert "Aucun compte Relais" in refused.text
    assert "relais_session" not in refused.headers.get("set-cookie", "")


async def test_nonce_mismatch_and_forged_state_are_refused(
    fed_relais: Relais, provider: RunningProvider
) -> None:
    account = await make_account(fed_relais, memberships=[(uuid.uuid4(), "member")])
    provider.state.user = _person(account.email)
    client_id, _ = await make_app_client(fed_relais)
    provider.state.wrong_nonce = True
    try:
        async with browser(fed_relais) as b:
            refused = await _upstream_login(fed_relais, b, client_id)
        assert refused.status_code == 502
    finally:
        provider.state.wrong_nonce = False
    async with browser(fed_relais) as b:
        forged = await b.get(
            "/auth/federation/callback", params={"state": "x" * 43, "code": "whatever"}
        )
        assert forged.status_code == 400
