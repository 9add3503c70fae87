"""Directory commands of the ``relais`` CLI: import and export (data·inclusion v1, HSDS), the
demo territory (``seed-demo``), the link checker (``check-links``), ``reindex`` and ``structures
search``. Heavy modules are imported inside each command, so ``relais --help`` stays quick.

``relais import data-inclusion PATH…`` exits 0 when every row was accepted, 1 when some rows
were rejected (the valid ones are committed), 2 when the input cannot be read at all.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.kernel.commands import settings_or_exit

if TYPE_CHECKING:
    from services.kernel.db import Database
    from services.kernel.settings import Settings

import_app = typer.Typer(
    help="Importer des données dans l'annuaire.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
structures_app = typer.Typer(
    help="Trouver des structures de l'annuaire.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


# Structures reindexed per transaction by ``reindex``.
REINDEX_BATCH = 500


async def open_database(settings: Settings) -> Database:
    """The directory's database, migrated first in embedded mode (like ``relais serve``)."""
    from services.directory.app import MIGRATIONS, SERVICE_NAME
    from services.kernel.db import Database
    from services.kernel.migrations import upgrade

    db = Database(settings, SERVICE_NAME)
    if settings.embedded:
        await upgrade(db, MIGRATIONS)
    return db


@import_app.command("data-inclusion")
def import_data_inclusion(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="fichiers data·inclusion v1 : structures et services (JSON ou CSV), "
            "un objet JSON {structures, services}, ou le classeur xlsx du modèle producteur"
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(help="source des lignes qui n'en donnent pas (ex. le nom du producteur)"),
    ] = None,
    actor: Annotated[str, typer.Option(help="auteur inscrit dans l'historique")] = "cli:import",
    quiet: Annotated[
        bool, typer.Option(help="résumé seulement, sans le détail des rejets")
    ] = False,
) -> None:
    """Import data·inclusion v1 structures and services (upsert by source and id)."""
    from services.directory.importer import import_datainclusion
    from services.directory.interop.files import UnreadableInput, read_paths

    settings = settings_or_exit()
    try:
        dataset = read_paths(paths)
    except UnreadableInput as exc:
        typer.echo(f"Entrée illisible : {exc}", err=True)
        raise typer.Exit(2) from exc

    async def run() -> int:
        db = await open_database(settings)
        try:
            async with db.session() as session:
                report = await import_datainclusion(
                    session,
                    dataset.structures,
                    dataset.services,
                    actor=actor,
                    default_source=source,
                    structure_rows=dataset.structure_rows,
                    service_rows=dataset.service_rows,
                )
        finally:
            await db.dispose()
        typer.echo(
            f"structures : {report.structures.created} créées, {report.structures.updated} "
            f"modifiées, {report.structures.unchanged} inchangées, "
            f"{report.structures.rejected} rejetées"
        )
        typer.echo(
            f"services : {report.services.created} créés, {report.services.updated} modifiés, "
            f"{report.services.unchanged} inchangés, {report.services.rejected} rejetés"
        )
        if not quiet:
            for error in report.errors:
                value = "" if error.value is None else f" (valeur : {error.value!r})"
                typer.echo(
                    f"rejet {error.kind} ligne {error.row} id={error.source_id or '?'} "
                    f"{error.field} : {error.reason}{value}"
                )
        return 0 if report.ok else 1

    raise typer.Exit(asyncio.run(run()))


@structures_app.command("search")
def search_structures(
    text: Annotated[str, typer.Argument(help="nom, sigle, activité (comme la recherche du site)")],
    limit: Annotated[int, typer.Option(help="nombre de structures affichées au plus")] = 20,
) -> None:
    """Print the id, name and commune of the published structures matching TEXT, best first
    (one per line, tab-separated): an id to give to create-admin or create-client."""
    from services.directory.search import engine
    from services.directory.search.resolve import SearchParams
    from services.kernel.problems import ProblemError

    settings = settings_or_exit()
    params = SearchParams(
        kind="structure",
        path="/directory/v1/search/structures",
        q=text,
        limit=limit,
        facets=False,
        highlight=False,
    )

    async def run() -> list[tuple[str, str, str]]:
        db = await open_database(settings)
        try:
            async with db.session() as session:
                outcome = await engine.search(params, None, settings, session)
        finally:
            await db.dispose()
        return [(str(hit.id), hit.name, hit.commune or "") for hit in outcome.page.items]

    try:
        rows = asyncio.run(run())
    except ProblemError as exc:
        typer.echo(f"Recherche impossible : {exc.detail}", err=True)
        raise typer.Exit(2) from None
    if not rows:
        typer.echo(f"Aucune structure ne correspond à « {text} ».", err=True)
        raise typer.Exit(1)
    for row in rows:
        typer.echo("\t".join(row))


def register(app: typer.Typer) -> None:
    """Add the directory's commands to ``relais``."""
    app.add_typer(import_app, name="import")
    app.add_typer(structures_app, name="structures")
    app.command("export")(export)
    app.command("seed-demo")(seed_demo)
    app.command("check-links")(check_links)
    app.command("geocode")(geocode)
    app.command("reindex")(reindex)


def export(
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="datainclusion-json, datainclusion-csv ou hsds-json",
        ),
    ] = "datainclusion-json",
    kind: Annotated[
        str, typer.Option(help="structures ou services (formats data·inclusion)")
    ] = "services",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="fichier de sortie (défaut : stdout)")
    ] = None,
) -> None:
    """Export the published directory (data·inclusion v1 JSON/CSV, HSDS JSON), streamed."""
    from services.directory import exporter

    try:
        stream = exporter.ExportFormat(fmt)
    except ValueError:
        known = ", ".join(f.value for f in exporter.ExportFormat)
        typer.echo(f"Format inconnu : {fmt} (attendu : {known})", err=True)
        raise typer.Exit(2) from None
    if kind not in ("structures", "services"):
        typer.echo("--kind : structures ou services", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit()

    async def run() -> None:
        db = await open_database(settings)
        target = output.open("wb") if output is not None else sys.stdout.buffer
        try:
            async with db.session() as session:
                async for chunk in exporter.export(session, stream, kind):
                    target.write(chunk)
        finally:
            if output is not None:
                target.close()
            else:
                target.flush()
            await db.dispose()

    asyncio.run(run())


def seed_demo(
    seed: Annotated[
        int, typer.Option(help="graine du générateur (même graine, mêmes données)")
    ] = 26,
) -> None:
    """Load the demo territory (Drôme): ~90 structures and ~290 services. Idempotent."""
    from services.directory.demo.seed import seed_demo as run_seed

    settings = settings_or_exit()

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
    from services.directory.linkcheck import check_links as run_check

    settings = settings_or_exit()

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


def geocode() -> None:
    """Look up now the addresses the geocoder has not answered for (GEOCODER_URL)."""
    from services.directory.geocoding import geocode_pending

    settings = settings_or_exit()
    if not settings.geocoder_url:
        typer.echo("GEOCODER_URL est vide : le géocodage des adresses est désactivé.")
        raise typer.Exit(1)

    async def run() -> int:
        db = await open_database(settings)
        try:
            # Every waiting entry (the worker's job takes at most a few batches per run).
            summary = await geocode_pending(db, settings, max_batches=1_000_000)
        finally:
            await db.dispose()
        typer.echo(
            f"Adresses géocodées : {summary.found} trouvées, {summary.not_found} sans résultat "
            f"fiable ({summary.queries} requêtes pour {summary.entries} fiches)"
        )
        if summary.unavailable:
            typer.echo(
                f"{summary.unavailable} fiches en attente : le géocodeur n'a pas répondu "
                "(nouvel essai au prochain passage)."
            )
            return 1
        return 0

    raise typer.Exit(asyncio.run(run()))


def reindex() -> None:
    """Rebuild the search index of every structure and service (idempotent).

    One transaction per batch of structures, so a large directory is reindexed without a long
    lock; then, when ``MEILI_URL`` is set, a new Meilisearch index swapped atomically with the
    live one."""
    import sqlalchemy as sa

    from services.directory.models import Structure
    from services.directory.search.indexing import refresh_structure_search_index

    settings = settings_or_exit()

    async def run() -> int:
        db = await open_database(settings)
        try:
            async with db.session() as session:
                ids = list(await session.scalars(sa.select(Structure.id).order_by(Structure.id)))
            for start in range(0, len(ids), REINDEX_BATCH):
                async with db.session() as session:
                    await refresh_structure_search_index(
                        session, ids[start : start + REINDEX_BATCH]
                    )
            return len(ids)
        finally:
            await db.dispose()

    count = asyncio.run(run())
    typer.echo(f"index de recherche reconstruit : {count} structures et leurs services")
    if settings.meili_url:
        from services.directory.search import meili, meili_feed

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
