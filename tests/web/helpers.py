"""A browser-like httpx client for the web app: follows the sign-in through /auth's pages."""

from __future__ import annotations

import re
import uuid
from html import unescape

import httpx
import sqlalchemy as sa

from services.directory.models import Structure
from tests.auth.helpers import PASSWORD, hidden_fields, make_account
from tests.conftest import Relais


def browser(relais: Relais) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=relais.gateway), base_url="http://testserver"
    )


async def demo_structure(relais: Relais, name_part: str = "") -> uuid.UUID:
    async with relais.app("directory").state.db.session() as session:
        query = sa.select(Structure.id).where(Structure.status == "published")
        if name_part:
            query = query.where(Structure.name.contains(name_part))
        found = (await session.scalars(query.order_by(Structure.name).limit(1))).first()
    assert found is not None
    return found


async def sign_in(
    relais: Relais, structure_id: uuid.UUID, role: str = "admin"
) -> tuple[httpx.AsyncClient, str]:
    """A new account of that structure, signed in to the web app: (browser, e-mail)."""
    account = await make_account(relais, memberships=[(structure_id, role)])
    return await sign_in_as(relais, account.email, PASSWORD), account.email


async def sign_in_as(relais: Relais, email: str, password: str) -> httpx.AsyncClient:
    """A browser signed in to the web app with that account."""
    b = browser(relais)
    start = await b.get("/connexion", params={"retour": "/"})
    assert start.status_code == 303, start.text
    login_page = await b.get(start.headers["location"])
    assert login_page.status_code == 200
    fields = {k: unescape(v) for k, v in hidden_fields(login_page.text).items()}
    logged = await b.post("/auth/login", data={**fields, "email": email, "password": password})
    assert logged.status_code == 303, logged.text
    # The web app is first-party: no consent page, straight back with a code.
    decided = await b.get(logged.headers["location"])
    assert decided.status_code == 302, decided.text
    back = await b.get(decided.headers["location"].replace("http://testserver", ""))
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/"
    return b


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)
