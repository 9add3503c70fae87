"""Helpers for auth tests: accounts, clients, a browser, PKCE, the mail folder."""

from __future__ import annotations

import base64
import email
import hashlib
import re
import secrets
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from services.auth.crypto import hash_password
from services.auth.models import Account
from services.auth.store import accounts, clients
from tests.conftest import Relais

REDIRECT_URI = "https://app.example.org/callback"
PASSWORD = "une phrase de passe assez longue"


def unique_email(prefix: str = "agent") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@ccas.example.org"


async def make_account(
    relais: Relais,
    *,
    email_address: str | None = None,
    password: str = PASSWORD,
    memberships: list[tuple[uuid.UUID, str]] | None = None,
    moderator: bool = False,
    status: str = "active",
) -> Account:
    db = relais.app("auth").state.db
    async with db.session() as session:
        account = Account(
            email=email_address or unique_email(),
            name="Camille Agent",
            password_hash=hash_password(password),
            status=status,
            email_verified=True,
            is_moderator=moderator,
        )
        session.add(account)
        await session.flush()
        for structure_id, role in memberships or []:
            await accounts.add_membership(session, account.id, structure_id, role)
    return account


async def make_client(
    relais: Relais,
    structure_id: uuid.UUID | None,
    scopes: list[str],
    *,
    grant_types: list[str] | None = None,
    redirect_uris: list[str] | None = None,
    public: bool = False,
    name: str = "Outil test",
) -> tuple[str, str | None]:
    db = relais.app("auth").state.db
    async with db.session() as session:
        client, secret = await clients.create_client(
            session,
            name=name,
            structure_id=structure_id,
            scopes=scopes,
            grant_types=grant_types or ["client_credentials"],
            redirect_uris=redirect_uris,
            public=public,
        )
        return client.client_id, secret


async def make_app_client(relais: Relais, *, public: bool = True) -> tuple[str, str | None]:
    """A staff application: authorization_code + refresh_token, PKCE."""
    return await make_client(
        relais,
        None,
        ["openid", "profile", "email"],
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT_URI],
        public=public,
        name="Application des agents",
    )


async def client_token(
    http: httpx.AsyncClient, client_id: str, secret: str, scope: str | None = None
) -> httpx.Response:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return await http.post("/auth/token", data=data, auth=(client_id, secret))


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def browser(relais: Relais) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=relais.gateway), base_url="http://testserver"
    )


def authorize_params(client_id: str, challenge: str | None, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": secrets.token_urlsafe(16),
    }
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return params


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def unescape(value: str) -> str:
    import html

    return html.unescape(value)


async def login(
    b: httpx.AsyncClient, params: dict[str, str], email_address: str, password: str
) -> httpx.Response:
    page = await b.get("/auth/authorize", params=params)
    assert page.status_code == 200, page.text
    fields = {k: unescape(v) for k, v in hidden_fields(page.text).items()}
    return await b.post(
        "/auth/login",
        data={**fields, "email": email_address, "password": password},
    )


async def authorize_code(
    relais: Relais,
    client_id: str,
    email_address: str,
    *,
    password: str = PASSWORD,
    structure_id: uuid.UUID | None = None,
    challenge: str | None = None,
    b: httpx.AsyncClient | None = None,
    **extra: str,
) -> tuple[str, dict[str, str]]:
    """Log in through the pages and return (code, query of the redirect)."""
    own = b is None
    b = b or browser(relais)
    try:
        params = authorize_params(client_id, challenge, **extra)
        response = await login(b, params, email_address, password)
        assert response.status_code == 303, response.text
        consent = await b.get(response.headers["location"])
        assert consent.status_code == 200, consent.text
        fields = {k: unescape(v) for k, v in hidden_fields(consent.text).items()}
        if structure_id is not None:
            fields["structure_id"] = str(structure_id)
        else:
            match = re.search(r'name="structure_id" value="([^"]*)"', consent.text)
            fields["structure_id"] = match.group(1) if match else ""
        decided = await b.post("/auth/authorize", data={**fields, "decision": "allow"})
        assert decided.status_code == 302, decided.text
        location = decided.headers["location"]
        assert location.startswith(REDIRECT_URI)
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert query.get("state") == params["state"]
        return query["code"], query
    finally:
        if own:
            await b.aclose()


async def exchange_code(
    http: httpx.AsyncClient,
    client_id: str,
    code: str,
    verifier: str | None,
    *,
    secret: str | None = None,
    redirect_uri: str = REDIRECT_URI,
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    if secret is None:
        data["client_id"] = client_id
        return await http.post("/auth/token", data=data)
    return await http.post("/auth/token", data=data, auth=(client_id, secret))


async def user_tokens(
    relais: Relais,
    client_id: str,
    email_address: str,
    structure_id: uuid.UUID | None = None,
    *,
    password: str = PASSWORD,
) -> dict[str, Any]:
    verifier, challenge = pkce()
    code, _ = await authorize_code(
        relais,
        client_id,
        email_address,
        password=password,
        structure_id=structure_id,
        challenge=challenge,
    )
    response = await exchange_code(relais.client, client_id, code, verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def mails_to(home: Path, address: str) -> list[email.message.Message]:
    folder = home / "mail"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            found.append(message)
    return found


def link_in(message: email.message.Message, path: str) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    match = re.search(rf"https?://\S+{re.escape(path)}\?token=\S+", body.decode())
    assert match, body
    return match.group(0)


def form(data: dict[str, str]) -> str:
    return urlencode(data)
