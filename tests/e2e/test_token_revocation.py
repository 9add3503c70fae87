"""Tokens are verified offline by every service; a revocation at auth must still reach them.

A third-party client reads the referrals outbox with a token issued by auth; the structure's
admin revokes the client; the very same, unexpired token is then refused by referrals (auth's
list of revoked tokens is polled; the refresh delay is 0 here so the test need not wait)."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa

from services.auth.models import Client
from services.auth.store import clients
from services.kernel.identity import Scope
from tests.auth.conftest import start_services
from tests.auth.helpers import client_token, make_client
from tests.tokens import TokenFactory, bearer


async def test_revoked_client_token_is_refused_by_other_services(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    relais, stack = await start_services(
        "sqlite",
        tmp_path,
        tokens,
        names=("auth", "directory", "referrals"),
        token_revocation_refresh_seconds=0,
    )
    async with stack:
        structure = uuid.uuid4()
        client_id, secret = await make_client(relais, structure, [Scope.REFERRALS_READ.value])
        assert secret is not None
        issued = await client_token(relais.client, client_id, secret)
        assert issued.status_code == 200, issued.text
        headers = bearer(issued.json()["access_token"])

        assert (await relais.client.get("/referrals/v1/outbox", headers=headers)).status_code == 200
        listed = await relais.client.get("/auth/.well-known/revoked-tokens.json")
        assert listed.json() == {"jti": []}

        db = relais.app("auth").state.db
        async with db.session() as session:
            client = await session.scalar(sa.select(Client).where(Client.client_id == client_id))
            assert client is not None
            await clients.revoke_client(session, client)

        refused = await relais.client.get("/referrals/v1/outbox", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "révoqué" in refused.json()["detail"]
        assert (
            len((await relais.client.get("/auth/.well-known/revoked-tokens.json")).json()["jti"])
            == 1
        )
        # A token of another, untouched client still works.
        other_id, other_secret = await make_client(relais, structure, [Scope.REFERRALS_READ.value])
        assert other_secret is not None
        other = await client_token(relais.client, other_id, other_secret)
        other_headers = bearer(other.json()["access_token"])
        assert (
            await relais.client.get("/referrals/v1/outbox", headers=other_headers)
        ).status_code == 200
