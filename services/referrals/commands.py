"""`relais rotate-keys`: rewrap every referral's data key under the current key. The modules
that reach the database are imported when the command runs, not when ``relais`` starts."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from services.kernel.commands import settings_errors_exit, settings_or_exit
from services.referrals.purge_command import register as register_purge

if TYPE_CHECKING:
    from services.kernel.settings import Settings


def register(app: typer.Typer) -> None:
    register_purge(app)  # relais purge

    @app.command("rotate-keys")
    def rotate_keys(
        new_key: Annotated[
            bool,
            typer.Option(
                "--new-key",
                help="embedded mode: add a fresh key to RELAIS_HOME/keys and make it current",
            ),
        ] = False,
    ) -> None:
        """Rewrap the referrals' data keys under the current key (then old keys may go)."""
        from services.referrals.crypto import add_key_to_file

        settings = settings_or_exit()
        with settings_errors_exit():
            if new_key:
                kid = add_key_to_file(settings)
                typer.echo(f"nouvelle clé courante : {kid}")
            counts = asyncio.run(run_rotation(settings))
        total = sum(counts.values())
        details = ", ".join(f"{name} {count}" for name, count in counts.items())
        typer.echo(f"{total} clés rechiffrées ({details})")


async def run_rotation(settings: Settings) -> dict[str, int]:
    from services.kernel.db import Database
    from services.referrals.crypto import load_keyring
    from services.referrals.rotation import rotate

    keyring = load_keyring(settings)
    db = Database(settings, "referrals")
    try:
        return await rotate(db, keyring)
    finally:
        await db.dispose()
