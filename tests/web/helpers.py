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
    relais: Relais,
    structure_id: uuid.UUID,
    role: str = "admin",
    *,
    also: tuple[uuid.UUID, ...] = (),
) -> tuple[httpx.AsyncClient, str]:
    """A new account of that structure (and member of those ``also``), signed in to the web
    app: (browser, e-mail)."""
    memberships = [(structure_id, role), *((other, "member") for other in also)]
    account = await make_account(relais, memberships=memberships)
    return await sign_in_as(relais, account.email, PASSWORD, structure_id), account.email


async def sign_in_as(
    relais: Relais, email: str, password: str, structure_id: uuid.UUID | None = None
) -> httpx.AsyncClient:
    """A browser signed in to the web app with that account (acting for ``structure_id`` if it
    has several, else for the one auth offers first)."""
    b = browser(relais)
    await sign_in_browser(b, email, password, structure_id)
    return b


async def sign_in_browser(
    b: httpx.AsyncClient, email: str, password: str, structure_id: uuid.UUID | None = None
) -> None:
    """Sign ``b`` in to the web app at its base URL (an ASGI app or a served one) with that
    account, through /connexion and auth's pages as a browser does."""
    start = await b.get("/connexion", params={"retour": "/"})
    assert start.status_code == 303, start.text
    login_page = await b.get(start.headers["location"])
    assert login_page.status_code == 200
    fields = {k: unescape(v) for k, v in hidden_fields(login_page.text).items()}
    logged = await b.post("/auth/login", data={**fields, "email": email, "password": password})
    assert logged.status_code == 303, logged.text
    # The web app is first-party: no consent page, straight back with a code; a member of
    # several structures first says which one she acts for.
    decided = await b.get(logged.headers["location"])
    if decided.status_code == 200 and "Pour quelle structure" in decided.text:
        chosen = {k: unescape(v) for k, v in hidden_fields(decided.text).items()}
        offered = re.findall(r'name="structure_id" value="([^"]+)"', decided.text)
        chosen["structure_id"] = str(structure_id) if structure_id else offered[0]
        decided = await b.post("/auth/authorize", data={**chosen, "decision": "allow"})
    assert decided.status_code == 302, decided.text
    back = await b.get(decided.headers["location"].replace(str(b.base_url).rstrip("/"), ""))
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/"


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)
