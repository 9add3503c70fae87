"""Secrets, passwords and tokens never reach the logs, even at DEBUG level."""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.auth.helpers import (
    PASSWORD,
    client_token,
    make_account,
    make_app_client,
    make_client,
    user_tokens,
)
from tests.conftest import Relais
from tests.tokens import bearer


async def test_no_secret_in_logs(
    auth_relais: Relais, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        client_id, secret = await make_client(auth_relais, uuid.uuid4(), ["directory:read"])
        assert secret
        token = (await client_token(auth_relais.client, client_id, secret)).json()["access_token"]
        await auth_relais.client.post(
            "/auth/introspect", data={"token": token}, auth=(client_id, secret)
        )
        account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
        app_id, _ = await make_app_client(auth_relais)
        tokens = await user_tokens(auth_relais, app_id, account.email)
        await auth_relais.client.get("/auth/userinfo", headers=bearer(tokens["access_token"]))
        await auth_relais.client.post(
            "/auth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": app_id,
            },
        )
    finally:
        logging.getLogger().setLevel(logging.WARNING)
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    for secret_value in (
        secret,
        token,
        tokens["access_token"],
        tokens["refresh_token"],
        tokens["id_token"],
        PASSWORD,
    ):
        assert secret_value not in logs
    assert token.split(".")[2] not in logs
