"""Directory maintenance commands of ``relais``: ``seed-demo`` and ``check-links``."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from services.kernel.settings import Settings, SettingsError, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"Configuration invalide : {exc}", err=True)
        raise typer.Exit(2) from exc


def seed_demo(
    seed: Annotated[
        int, typer.Option(help="graine du générateur (même graine, mêmes données)")
    ] = 26,
) -> None:
    """Load the demo territory (Drôme): ~90 structures and ~290 services. Idempotent."""
    from services.directory.commands import open_database
    from services.directory.demo.seed import seed_demo as run_seed

    settings = _settings()

    async def run() -> int:
        db = await open_database(settings)
        try:
            async with db.session() as session:
                report = await run_seed(
                    session, seed=seed, review_period_days=settings.directory_review_period_days
                )
        finally:
            await db.dispose()
        imported = report.imported
        typer.echo(
            f"Territoire de démonstration (Drôme, graine {seed}) : "
            f"{report.structures} structures, {report.services} services"
        )
        typer.echo(
            f"  import data·inclusion : {imported.created} créés, {imported.updated} mis à jour, "
            f"{imported.unchanged} inchangés, {imported.rejected} rejetés"
        )
        typer.echo(
            f"  publiés : {report.published}, brouillons : {report.drafts}, "
            f"à revoir (périmés) : {report.stale}, ajustés : {report.adjusted}"
        )
        for error in imported.errors:
            typer.echo(f"  rejet {error.kind} {error.source_id} {error.field} : {error.reason}")
        return 0 if imported.ok else 1

    raise typer.Exit(asyncio.run(run()))


def check_links() -> None:
    """Check every website, referral and booking link once and print a summary."""
    from services.directory.commands import open_database
    from services.directory.linkcheck import check_links as run_check

    settings = _settings()

    async def run() -> int:
        db = await open_database(settings)
        try:
            summary = await run_check(db, settings)
        finally:
            await db.dispose()
        if summary.offline:
            typer.echo(
                f"Aucune des {summary.urls} adresses n'a répondu : pas de réseau ? "
                "Rien n'a été enregistré."
            )
            return 1
        typer.echo(
            f"Liens vérifiés : {summary.links} ({summary.urls} adresses distinctes) — "
            f"{summary.ok} valides, {summary.failed} en échec, {summary.dead} morts "
            f"(dont {summary.newly_dead} nouveaux), {summary.revived} rétablis"
        )
        return 0

    raise typer.Exit(asyncio.run(run()))


def register(app: typer.Typer) -> None:
    app.command("seed-demo")(seed_demo)
    app.command("check-links")(check_links)
