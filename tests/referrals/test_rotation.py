"""Encryption keys: configured keys, key file in embedded mode, `relais rotate-keys`."""

from __future__ import annotations

import base64
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from services.cli import app as cli
from services.kernel.settings import SettingsError, load_settings
from services.referrals import models as m
from services.referrals.commands import run_rotation
from services.referrals.crypto import (
    DecryptionError,
    Keyring,
    add_key_to_file,
    load_keyring,
    parse_keys,
)
from services.referrals.deps import KeyringHolder
from tests.conftest import BACKENDS, start_relais
from tests.referrals.conftest import World, act, create_referral, read
from tests.referrals.sealed import readable, sealed_values
from tests.tokens import TokenFactory


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_values_are_bound_to_their_place() -> None:
    keyring = Keyring({"a": os.urandom(32)}, "a")
    token = keyring.seal("Aïcha", "referral:1:person")
    assert token.startswith("a:")
    assert keyring.open(token, "referral:1:person") == "Aïcha"
    with pytest.raises(DecryptionError):
        keyring.open(token, "referral:2:person")  # moved to another row
    with pytest.raises(DecryptionError):
        Keyring({"b": os.urandom(32)}, "b").open(token, "referral:1:person")


def test_bad_key_settings_are_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="REFERRALS_ENCRYPTION_KEYS"):
        parse_keys("nocolon")
    with pytest.raises(SettingsError, match="32 bytes"):
        load_keyring(load_settings(environ={}, home=tmp_path, referrals_encryption_keys="k:YWJj"))
    with pytest.raises(SettingsError, match="REFERRALS_ENCRYPTION_KEY_ID"):
        load_keyring(
            load_settings(
                environ={},
                home=tmp_path,
                referrals_encryption_keys=f"k1:{_key()}",
                referrals_encryption_key_id="k2",
            )
        )


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    settings = load_settings(environ={}, home=tmp_path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        rings = list(pool.map(lambda _: load_keyring(settings), range(16)))
    assert len({ring.current for ring in rings}) == 1
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["referrals.json"]


def test_embedded_key_file_is_created_once(tmp_path: Path) -> None:
    settings = load_settings(environ={}, home=tmp_path)
    first = load_keyring(settings)
    path = tmp_path / "keys" / "referrals.json"
    assert path.exists()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_keyring(settings).current == first.current
    new = add_key_to_file(settings)
    again = load_keyring(settings)
    assert again.current == new
    assert set(again.keys) == {first.current, new}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_rotate_keys_rewraps_data_keys(
    backend: str, tmp_path: Path, tokens: TokenFactory
) -> None:
    old, new = "old1", "new2"
    old_key, new_key = _key(), _key()
    system, stack = await start_relais(
        backend, tmp_path, tokens, referrals_encryption_keys=f"{old}:{old_key}"
    )
    async with stack:
        app = system.app("referrals")
        db = app.state.db
        world = World(system)
        ccas, partner = await world.org(), await world.org()
        created = await create_referral(
            world, ccas, partner, headers={**ccas.member, "Idempotency-Key": "rotation-1"}
        )
        rid = created["id"]
        await act(
            world, partner.member, rid, created["handoffs"][0], "decline",
            {"reason": "other", "comment": "commentaire"},
        )  # fmt: skip
        upload = await world.client.post(
            f"/referrals/v1/referrals/{rid}/attachments",
            content=b"%PDF-1.4 secret",
            headers={**ccas.member, "Content-Type": "application/pdf"},
        )
        assert upload.status_code == 201
        backup = await sealed_values(db, rid)  # taken before the rotation
        assert len(backup) >= 6

        # The operator lists the new key first (current), keeps the old one, and rotates.
        both = msgspec.structs.replace(
            system.settings, referrals_encryption_keys=f"{new}:{new_key},{old}:{old_key}"
        )
        counts = await run_rotation(both)
        assert counts == {
            "referral_keys.wrapped": 1,
            "webhook_subscriptions.secret_enc": 0,
            "webhook_subscriptions.previous_secret_enc": 0,
        }
        assert await run_rotation(both) == dict.fromkeys(counts, 0)  # nothing left to do
        async with db.session() as session:
            wrapped = await session.get(m.ReferralKey, uuid.UUID(rid))
        assert wrapped is not None
        assert wrapped.wrapped.startswith(f"{new}:")
        # Only the key was rewrapped: every personal value is the very same ciphertext.
        assert await sealed_values(db, rid) == backup
        # With old and new keys, and with the new key alone, everything still reads.
        assert sorted(await readable(db, load_keyring(both), backup)) == sorted(
            s.where for s in backup
        )
        only_new = msgspec.structs.replace(
            system.settings, referrals_encryption_keys=f"{new}:{new_key}"
        )
        app.state.keyring = KeyringHolder(only_new)
        view = await read(world, ccas.member, rid)
        assert view["person"]["first_name"] == "Aïcha"
        assert view["handoffs"][0]["comment"] == "commentaire"
        got = await world.client.get(
            f"/referrals/v1/referrals/{rid}/attachments/{upload.json()['id']}",
            headers=ccas.member,
        )
        assert got.content == b"%PDF-1.4 secret"

        # Withdrawal after the rotation: the copy taken before it opens with neither key.
        withdrawn = await world.client.post(
            f"/referrals/v1/referrals/{rid}/consent/withdraw", headers=ccas.member
        )
        assert withdrawn.status_code == 200, withdrawn.text
        assert await readable(db, load_keyring(both), backup) == []


def test_rotate_keys_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_HOME", str(tmp_path))
    runner = CliRunner()
    migrate = runner.invoke(cli, ["migrate", "referrals"])
    assert migrate.exit_code == 0, migrate.output
    result = runner.invoke(cli, ["rotate-keys", "--new-key"])
    assert result.exit_code == 0, result.output
    assert "nouvelle clé courante" in result.output
    assert "clés rechiffrées" in result.output
