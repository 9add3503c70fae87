"""CLI commands, signing key rotation (announce before use, keep until expiry), introspection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import KeySet
from typer.testing import CliRunner

from services.auth.keys import KeyRing
from services.auth.models import SigningKey
from services.kernel.clock import utcnow
from tests.auth.conftest import start_services
from tests.auth.helpers import client_token, make_client
from tests.conftest import BACKENDS, Relais
from tests.tokens import TokenFactory

ENV = {"LOG_LEVEL": "WARNING", "RELAIS_ENV": "development"}


def _cli(*args: str) -> dict[str, object]:
    from services.cli import app

    result = CliRunner().invoke(app, list(args), env=ENV)
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return payload


def test_cli_create_admin_client_and_rotate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.cli import app

    # Embedded mode in a fresh folder (RELAIS_HOME defaults to ./var).
    monkeypatch.chdir(tmp_path)
    for name in ("RELAIS_HOME", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    env = ENV
    home = tmp_path / "var"
    assert runner.invoke(app, ["migrate", "auth"], env=env).exit_code == 0
    structure = str(uuid.uuid4())
    admin = _cli("create-admin", "--email", "Chef@CCAS.example.org", "--structure", structure)
    assert admin["email"] == "chef@ccas.example.org"
    assert admin["role"] == "admin"
    mails = list((home / "mail").glob("*.eml"))
    assert len(mails) == 1
    assert "/auth/invitation?token=" in mails[0].read_text()
    client = _cli(
        "create-client",
        "--structure",
        structure,
        "--scopes",
        "directory:read directory:write",
    )
    assert str(client["client_id"]).startswith("rls_")
    assert len(str(client["client_secret"])) >= 40
    assert client["scopes"] == ["directory:read", "directory:write"]
    rotated = _cli("rotate-signing-key")
    assert rotated["kid"]
    bad = runner.invoke(
        app, ["create-client", "--structure", structure, "--scopes", "root"], env=env
    )
    assert bad.exit_code == 2
    bad = runner.invoke(app, ["create-admin", "--email", "x@y.z", "--structure", "nope"], env=env)
    assert bad.exit_code == 2


def test_a_command_answers_on_stdout_and_logs_on_stderr(tmp_path: Path) -> None:
    """`relais create-admin … | jq` reads the answer alone: the e-mail's log line is on stderr."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RELAIS_", "DATABASE_", "LOG_"))
    }
    env |= {"RELAIS_HOME": str(tmp_path), "RELAIS_ENV": "development"}

    def relais(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "services.cli", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=True)

    relais("migrate", "auth")
    created = relais(
        "create-admin", "--email", "chef@ccas.example.org", "--structure", str(uuid.uuid4())
    )
    assert json.loads(created.stdout)["email"] == "chef@ccas.example.org"
    assert "mail_written" in created.stderr


@pytest.fixture(params=BACKENDS)
async def own_relais(
    request: pytest.FixtureRequest, tmp_path: Path, tokens: TokenFactory
) -> AsyncIterator[Relais]:
    """A system of its own: rotating keys must not disturb the shared one's caches."""
    system_under_test, stack = await start_services(request.param, tmp_path, tokens)
    async with stack:
        yield system_under_test


async def test_key_rotation_announces_then_switches_then_retires(own_relais: Relais) -> None:
    auth_relais = own_relais
    app = auth_relais.app("auth")
    ring = KeyRing(auth_relais.settings)
    async with app.state.db.session() as session:
        current = (await ring.snapshot(session)).signer.kid
        await session.execute(
            sa.update(SigningKey)
            .where(SigningKey.kid != current)
            .values(usable_from=utcnow() - timedelta(days=30))
        )
        await session.execute(
            sa.update(SigningKey)
            .where(SigningKey.kid == current)
            .values(usable_from=utcnow() - timedelta(days=1))
        )
        ring.invalidate()
        announced = await ring.add_key(session, usable_from=utcnow() + timedelta(minutes=10))
        snapshot = await ring.snapshot(session)
        published = {k["kid"] for k in snapshot.jwks["keys"]}
        assert snapshot.signer.kid == current  # not used before its time...
        assert {current, announced.kid} <= published  # ...but already announced
        # Time passes: the new key signs, the old one stays until its tokens have expired.
        await session.execute(
            sa.update(SigningKey)
            .where(SigningKey.kid == announced.kid)
            .values(usable_from=utcnow() - timedelta(seconds=1))
        )
        ring.invalidate()
        snapshot = await ring.snapshot(session)
        assert snapshot.signer.kid == announced.kid
        assert current in {k["kid"] for k in snapshot.jwks["keys"]}
        await session.execute(
            sa.update(SigningKey)
            .where(SigningKey.kid == announced.kid)
            .values(usable_from=utcnow() - ring.keep_for - timedelta(seconds=1))
        )
        ring.invalidate()
        snapshot = await ring.snapshot(session)
        assert current not in {k["kid"] for k in snapshot.jwks["keys"]}
        assert snapshot.signer.kid == announced.kid
    # The app's own cache picks up the new key; the other services follow via unknown kid.
    app.state.keyring.invalidate()
    client_id, secret = await make_client(auth_relais, uuid.uuid4(), ["directory:read"])
    assert secret
    token = (await client_token(auth_relais.client, client_id, secret)).json()["access_token"]
    jwks = (await auth_relais.client.get("/auth/.well-known/jwks.json")).json()
    assert jwt.decode(token, KeySet.import_key_set(jwks)).header["kid"] == announced.kid
    caller = await app.state.verifier.verify(token)
    assert caller.client_id == client_id


async def test_private_keys_are_encrypted_when_a_key_is_configured(auth_relais: Relais) -> None:
    import base64
    import os

    import msgspec

    settings = msgspec.structs.replace(
        auth_relais.settings,
        auth_key_encryption_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
    )
    ring = KeyRing(settings)
    async with auth_relais.app("auth").state.db.session() as session:
        row = await ring.add_key(session, usable_from=utcnow() + timedelta(days=3650))
        assert row.encrypted
        assert row.private_jwk.startswith("v1:")
        assert '"d"' not in row.private_jwk
        assert ring._private(row).as_dict(private=False)["x"] == row.public_jwk["x"]
        await session.delete(row)


async def test_introspection_and_revocation(auth_relais: Relais) -> None:
    client_id, secret = await make_client(auth_relais, uuid.uuid4(), ["directory:read"])
    other_id, other_secret = await make_client(auth_relais, uuid.uuid4(), ["directory:read"])
    assert secret
    assert other_secret
    token = (await client_token(auth_relais.client, client_id, secret)).json()["access_token"]
    http = auth_relais.client
    active = await http.post("/auth/introspect", data={"token": token}, auth=(client_id, secret))
    assert active.status_code == 200
    body = active.json()
    assert body["active"] is True
    assert body["client_id"] == client_id
    assert body["scope"] == "directory:read"
    # Another client learns nothing about it.
    foreign = await http.post(
        "/auth/introspect", data={"token": token}, auth=(other_id, other_secret)
    )
    assert foreign.json() == {"active": False}
    unauthenticated = await http.post("/auth/introspect", data={"token": token})
    assert unauthenticated.status_code in (400, 401)
    for junk in ("", "x" * 5000, "a.b.c", "ey.ey.ey"):
        response = await http.post(
            "/auth/introspect", data={"token": junk}, auth=(client_id, secret)
        )
        assert response.status_code in (200, 400), response.text
    revoked = await http.post("/auth/revoke", data={"token": token}, auth=(client_id, secret))
    assert revoked.status_code == 200
    after = await http.post("/auth/introspect", data={"token": token}, auth=(client_id, secret))
    assert after.json() == {"active": False}


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("court", False),
        ("motdepasse123", False),
        ("Azertyuiop123!", False),
        ("aaaaaaaaaaaaaaaa", False),
        ("123456789012345", False),
        ("camille.agent2025", False),
        ("le vélo bleu du facteur", True),
        ("Tr0ub4dor&3-cheval", True),
    ],
)
def test_password_policy(password: str, ok: bool) -> None:
    from services.auth.domain.passwords import password_problems

    problems = password_problems(password, email="camille.agent@ccas.example.org", name="Camille")
    assert (not problems) is ok, problems


def _kek() -> str:
    import base64
    import os

    return base64.urlsafe_b64encode(os.urandom(32)).decode()


async def test_key_encryption_key_rotation_reseals_every_signing_key(own_relais: Relais) -> None:
    import msgspec

    old, new = _kek(), _kek()
    with_old = KeyRing(msgspec.structs.replace(own_relais.settings, auth_key_encryption_key=old))
    rotating = KeyRing(
        msgspec.structs.replace(
            own_relais.settings,
            auth_key_encryption_key=new,
            auth_key_encryption_key_previous=f"{_kek()},{old}",
        )
    )
    only_new = KeyRing(msgspec.structs.replace(own_relais.settings, auth_key_encryption_key=new))
    in_clear = KeyRing(msgspec.structs.replace(own_relais.settings, auth_key_encryption_key=""))
    async with own_relais.app("auth").state.db.session() as session:
        await in_clear.add_key(session, usable_from=utcnow() + timedelta(days=3650))
        await with_old.add_key(session, usable_from=utcnow() + timedelta(days=3650))
        rows = list((await session.scalars(sa.select(SigningKey))).all())
        assert any(not row.encrypted for row in rows)  # stored before a key was configured
        sealed_with_old = next(row for row in rows if row.encrypted)
        with pytest.raises(ValueError, match="AUTH_KEY_ENCRYPTION_KEY_PREVIOUS"):
            only_new._private(sealed_with_old)
        public = {row.kid: row.public_jwk["x"] for row in rows}

        assert await rotating.reseal(session) == len(rows)
        for row in (await session.scalars(sa.select(SigningKey))).all():
            assert row.encrypted
            assert '"d"' not in row.private_jwk
            # Readable with the new key alone, and still the same key pair.
            assert only_new._private(row).as_dict(private=False)["x"] == public[row.kid]
        assert await only_new.reseal(session) == len(rows)  # idempotent


def test_cli_rotate_key_encryption_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cli import app

    monkeypatch.chdir(tmp_path)
    for name in ("RELAIS_HOME", "DATABASE_URL", "AUTH_KEY_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["migrate", "auth"], env=ENV).exit_code == 0
    _cli("rotate-signing-key")  # creates the current key and a new one, in clear
    refused = runner.invoke(app, ["rotate-key-encryption-key"], env=ENV)
    assert refused.exit_code == 2
    assert "AUTH_KEY_ENCRYPTION_KEY" in refused.output
    result = runner.invoke(
        app, ["rotate-key-encryption-key"], env={**ENV, "AUTH_KEY_ENCRYPTION_KEY": _kek()}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"resealed": 2}
