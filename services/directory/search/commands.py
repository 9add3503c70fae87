"""``relais reindex``: rebuild the database search index from the directory's tables, then,
when ``MEILI_URL`` is set, a new Meilisearch index swapped atomically with the live one."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
import typer

from services.directory.models import Structure
from services.directory.search import meili, meili_feed
from services.directory.search.indexing import refresh_structure_search_index

BATCH = 500


def reindex() -> None:
    """Rebuild the search index of every structure and service (idempotent; one transaction
    per batch of structures, so a large directory is reindexed without a long lock)."""
    from services.directory.commands import _settings, open_database

    settings = _settings()

    async def run() -> int:
        db = await open_database(settings)
        try:
            async with db.session() as session:
                ids = list(await session.scalars(sa.select(Structure.id).order_by(Structure.id)))
            for start in range(0, len(ids), BATCH):
                async with db.session() as session:
                    await refresh_structure_search_index(session, ids[start : start + BATCH])
            return len(ids)
        finally:
            await db.dispose()

    count = asyncio.run(run())
    typer.echo(f"index de recherche reconstruit : {count} structures et leurs services")
    if settings.meili_url:

        async def rebuild_meili() -> int:
            db = await open_database(settings)
            try:
                return await meili_feed.rebuild(settings, db)
            finally:
                await db.dispose()

        try:
            documents = asyncio.run(rebuild_meili())
        except meili.FAILURES as exc:
            typer.echo(f"Meilisearch : reconstruction impossible ({type(exc).__name__})", err=True)
            raise typer.Exit(1) from None
        typer.echo(
            f"Meilisearch : nouvel index de {documents} documents, échangé avec "
            f"{meili.index_name(settings)} (l'ancien est supprimé)"
        )


def register(app: typer.Typer) -> None:
    app.command("reindex")(reindex)
