"""`relais purge`: apply the retention periods now (or report them with --dry-run)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from services.kernel.commands import settings_errors_exit, settings_or_exit

if TYPE_CHECKING:
    from services.kernel.settings import Settings
    from services.referrals.service.retention import PurgeReport


def register(app: typer.Typer) -> None:
    @app.command("purge")
    def purge_command(
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="report what would be erased, change nothing")
        ] = False,
    ) -> None:
        """Erase personal data and attachments kept longer than the retention periods."""
        settings = settings_or_exit()
        with settings_errors_exit():
            report = asyncio.run(run_purge(settings, dry_run=dry_run))
        verb = "seraient effacées" if dry_run else "effacées"
        typer.echo(f"orientations terminées dont les données {verb} : {len(report.erased)}")
        typer.echo(f"orientations inactives anonymisées : {len(report.anonymised)}")
        typer.echo(f"pièces jointes {verb} : {report.attachments}")
        if dry_run:
            for referral_id in [*report.erased, *report.anonymised]:
                typer.echo(f"  {referral_id}")


async def run_purge(settings: Settings, *, dry_run: bool) -> PurgeReport:
    from services.kernel.clock import utcnow
    from services.kernel.db import Database
    from services.referrals.crypto import load_keyring
    from services.referrals.service.retention import purge

    db = Database(settings, "referrals")
    try:
        return await purge(db, load_keyring(settings), settings, utcnow(), dry_run=dry_run)
    finally:
        await db.dispose()
