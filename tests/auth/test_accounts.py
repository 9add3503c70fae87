"""Invitations, password reset by e-mail, members and API clients managed by structure admins."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from tests.auth.helpers import (
    browser,
    client_token,
    hidden_fields,
    link_in,
    mails_to,
    make_account,
    make_app_client,
    unescape,
    unique_email,
    user_tokens,
)
from tests.conftest import Relais
from tests.tokens import bearer

NEW_PASSWORD = "le vélo bleu du facteur"


async def _admin(relais: Relais, structure: uuid.UUID) -> tuple[str, dict[str, str]]:
    admin = await make_account(relais, memberships=[(structure, "admin")])
    client_id, _ = await make_app_client(relais)
    tokens = await user_tokens(relais, client_id, admin.email)
    return client_id, bearer(tokens["access_token"])


async def _submit(relais: Relais, link: str, **values: str) -> tuple[int, str]:
    path = urlsplit(link)
    async with browser(relais) as b:
        page = await b.get(f"{path.path}?{path.query}")
        assert page.status_code == 200, page.text
        fields = {k: unescape(v) for k, v in hidden_fields(page.text).items()}
        response = await b.post(path.path, data={**fields, **values})
        return response.status_code, response.text


async def test_invitation_by_email_single_use(auth_relais: Relais) -> None:
    structure = uuid.uuid4()
    client_id, headers = await _admin(auth_relais, structure)
    email = unique_email("invite")
    created = await auth_relais.client.post(
        f"/auth/v1/structures/{structure}/invitations",
        json={"email": email, "role": "member"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    mails = mails_to(auth_relais.settings.home, email)
    assert len(mails) == 1
    link = link_in(mails[0], "/auth/invitation")
    weak, text = await _submit(auth_relais, link, name="Alex Martin", password="azertyuiop12")
    assert weak == 422
    assert "trop courant" in text
    status, text = await _submit(auth_relais, link, name="Alex Martin", password=NEW_PASSWORD)
    assert status == 200, text
    assert "Bienvenue" in text
    # Single use.
    async with browser(auth_relais) as b:
        path = urlsplit(link)
        again = await b.get(f"{path.path}?{path.query}")
        assert again.status_code == 400
    tokens = await user_tokens(auth_relais, client_id, email, password=NEW_PASSWORD)
    caller = await auth_relais.app("auth").state.verifier.verify(tokens["access_token"])
    assert caller.is_member_of(structure)
    members = await auth_relais.client.get(
        f"/auth/v1/structures/{structure}/members", headers=headers
    )
    assert email in {m["email"] for m in members.json()}


async def test_members_cannot_invite_or_manage_other_structures(auth_relais: Relais) -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    member = await make_account(auth_relais, memberships=[(mine, "member")])
    client_id, _ = await make_app_client(auth_relais)
    member_headers = bearer(
        (await user_tokens(auth_relais, client_id, member.email))["access_token"]
    )
    _, admin_headers = await _admin(auth_relais, mine)
    for headers, structure in ((member_headers, mine), (admin_headers, other)):
        for method, path, body in (
            ("POST", "invitations", {"email": unique_email(), "role": "admin"}),
            ("POST", "clients", {"name": "x", "scopes": ["directory:read"]}),
            ("GET", "members", None),
            ("GET", "clients", None),
        ):
            response = await auth_relais.client.request(
                method, f"/auth/v1/structures/{structure}/{path}", json=body, headers=headers
            )
            assert response.status_code == 403, (method, path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
    anonymous = await auth_relais.client.get(f"/auth/v1/structures/{mine}/members")
    assert anonymous.status_code == 401


async def test_admin_registers_and_revokes_an_api_client(auth_relais: Relais) -> None:
    structure = uuid.uuid4()
    _, headers = await _admin(auth_relais, structure)
    bad = await auth_relais.client.post(
        f"/auth/v1/structures/{structure}/clients",
        json={"name": "Logiciel", "scopes": ["everything"]},
        headers=headers,
    )
    assert bad.status_code == 422
    created = await auth_relais.client.post(
        f"/auth/v1/structures/{structure}/clients",
        json={"name": "Logiciel de suivi", "scopes": ["directory:read", "referrals:write"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    token = await client_token(auth_relais.client, body["client_id"], body["client_secret"])
    assert token.status_code == 200
    listed = await auth_relais.client.get(
        f"/auth/v1/structures/{structure}/clients", headers=headers
    )
    assert [c["client_id"] for c in listed.json()] == [body["client_id"]]
    assert "client_secret" not in listed.text
    assert body["client_secret"] not in listed.text
    revoked = await auth_relais.client.delete(
        f"/auth/v1/structures/{structure}/clients/{body['client_id']}", headers=headers
    )
    assert revoked.status_code == 204
    refused = await client_token(auth_relais.client, body["client_id"], body["client_secret"])
    assert refused.status_code == 401


async def test_password_reset_by_emailed_link(auth_relais: Relais) -> None:
    account = await make_account(auth_relais, memberships=[(uuid.uuid4(), "member")])
    client_id, _ = await make_app_client(auth_relais)
    old_tokens = await user_tokens(auth_relais, client_id, account.email)
    for email in (account.email, unique_email("personne")):
        response = await auth_relais.client.post("/auth/v1/password-resets", json={"email": email})
        assert response.status_code == 202
        assert response.json()["detail"].startswith("Si un compte actif")
    assert mails_to(auth_relais.settings.home, account.email)
    link = link_in(mails_to(auth_relais.settings.home, account.email)[-1], "/auth/password/reset")
    status, text = await _submit(auth_relais, link, password=NEW_PASSWORD)
    assert status == 200, text
    # Old sessions and tokens are revoked; the new password works; the link is single use.
    refresh = await auth_relais.client.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": old_tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refresh.status_code == 400
    new = await user_tokens(auth_relais, client_id, account.email, password=NEW_PASSWORD)
    assert new["access_token"]
    async with browser(auth_relais) as b:
        path = urlsplit(link)
        again = await b.get(f"{path.path}?{path.query}")
        assert again.status_code == 400


async def test_members_see_their_colleagues_by_name_only(auth_relais: Relais) -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    member = await make_account(auth_relais, memberships=[(mine, "member")])
    colleague = await make_account(auth_relais, memberships=[(mine, "admin")])
    await make_account(auth_relais, memberships=[(mine, "member")], status="disabled")
    await make_account(auth_relais, memberships=[(other, "member")])
    client_id, _ = await make_app_client(auth_relais)
    headers = bearer((await user_tokens(auth_relais, client_id, member.email))["access_token"])
    listed = await auth_relais.client.get(f"/auth/v1/structures/{mine}/colleagues", headers=headers)
    assert listed.status_code == 200, listed.text
    ids = {c["account_id"] for c in listed.json()}
    assert ids == {str(member.id), str(colleague.id)}
    assert set(listed.json()[0]) == {"account_id", "name"}  # no e-mail, no role
    elsewhere = await auth_relais.client.get(
        f"/auth/v1/structures/{other}/colleagues", headers=headers
    )
    assert elsewhere.status_code == 403
