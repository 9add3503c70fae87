"""Schemathesis against the auth service's document (OAuth 2 endpoints, accounts, members,
invitations, clients): generated requests, anonymous, as a structure's admin and as a
moderator, never make a server error and are answered as documented."""

from __future__ import annotations

import uuid

import pytest
import schemathesis

from tests.auth.helpers import make_account, make_app_client, user_tokens
from tests.conftest import Relais
from tests.fuzz import contract_failures, generate_cases
from tests.tokens import bearer


@pytest.mark.slow
async def test_generated_requests_are_answered_as_documented(auth_relais: Relais) -> None:
    structure = uuid.uuid4()
    app_id, _ = await make_app_client(auth_relais)
    admin = await make_account(auth_relais, memberships=[(structure, "admin")])
    moderator = await make_account(auth_relais, moderator=True)
    callers = [{}]
    for account in (admin, moderator):
        tokens = await user_tokens(auth_relais, app_id, account.email)
        callers.append(bearer(tokens["access_token"]))
    document = auth_relais.app("auth").openapi_schema.to_schema()
    schema = schemathesis.openapi.from_dict(document)
    cases = generate_cases(schema, per_operation=15, at_least=20)
    real = {"structure_id": str(structure), "account_id": str(admin.id)}
    assert await contract_failures(auth_relais.client, cases, callers, real=real) == []
