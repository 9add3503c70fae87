"""The demo territory's staff accounts: created after the demo data, idempotent, and each can
sign in to the web app and lands on its structure's home page."""

from __future__ import annotations

import html

from services.demo_accounts import DEMO_PASSWORD, PERSONAS, create_demo_accounts
from tests.conftest import Relais
from tests.web.helpers import sign_in_as


async def test_each_demo_account_signs_in_to_its_structure(web_relais: Relais) -> None:
    created = await create_demo_accounts(web_relais.settings)
    again = await create_demo_accounts(web_relais.settings)
    assert [a.persona for a in created] == [a.persona for a in again] == list(PERSONAS)
    for account in created:
        b = await sign_in_as(web_relais, account.persona.email, DEMO_PASSWORD)
        home = html.unescape((await b.get("/")).text)
        assert account.persona.name in home
        assert (account.structure_name or "Connecté·e") in home
