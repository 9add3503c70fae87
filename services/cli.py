"""`relais` — the one command-line entry point.

Core commands live here; each service may add its own with a ``commands.py`` exposing
``register(app: typer.Typer)`` (directory: seed-demo, import, export, check-links…).
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from services import system
from services.kernel.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    help="Relais — annuaire partagé et orientations avec consentement.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"Configuration invalide : {exc}", err=True)
        raise typer.Exit(2) from exc


def _names(services: list[str] | None) -> list[str]:
    names = services or list(system.SERVICE_NAMES)
    unknown = [n for n in names if n not in system.SERVICE_NAMES]
    if unknown:
        typer.echo(
            f"Service inconnu : {', '.join(unknown)} (attendu : {', '.join(system.SERVICE_NAMES)})",
            err=True,
        )
        raise typer.Exit(2)
    return names


@app.command()
def serve(
    services: Annotated[
        list[str] | None, typer.Argument(help="services to run (default: all)")
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="server processes (production)")] = 1,
) -> None:
    """Serve the given services (default: all, each under its prefix)."""
    import uvicorn

    settings = settings_or_exit()
    names = _names(services)
    if settings.embedded:
        asyncio.run(system.migrate(settings, names))
    gateway = system.create_gateway(
        settings, names, with_worker=settings.embedded and settings.worker_enabled
    )
    uvicorn.run(
        gateway,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        workers=workers if workers > 1 else None,
    )


@app.command()
def migrate(services: Annotated[list[str] | None, typer.Argument()] = None) -> None:
    """Apply every service's database migrations (a separate step in production)."""
    settings = settings_or_exit()
    asyncio.run(system.migrate(settings, _names(services)))
    typer.echo("migrations appliquées")


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="comma-separated queues (default: all)")] = "",
) -> None:
    """Run background jobs (outbox, webhooks, emails, expiries, link checks, purges)."""
    from services.kernel.jobs import run_jobs

    settings = settings_or_exit()
    apps, _ = system.build_apps(settings)
    jobs = system.service_jobs(apps, [q for q in queues.split(",") if q])

    async def main() -> None:
        import signal
        from contextlib import AsyncExitStack

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with AsyncExitStack() as stack:
            for a in apps.values():
                await stack.enter_async_context(a.lifespan())
            await run_jobs(jobs, stop, poll_seconds=settings.worker_poll_seconds)

    asyncio.run(main())


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="folder to write into")] = Path("openapi"),
) -> None:
    """Write each service's OpenAPI document to openapi/<service>.json."""
    from services.openapi_docs import render

    settings = load_settings(environ={}, home=Path("var/openapi-build"))
    output.mkdir(parents=True, exist_ok=True)
    for name, document in render(settings).items():
        (output / f"{name}.json").write_bytes(document)
        typer.echo(f"openapi/{name}.json")


@app.command("make-migration", hidden=True)
def make_migration(service: str, message: str) -> None:
    """Developer tool: autogenerate a migration of SERVICE from its models."""
    from services.kernel.devtools import make_revision

    make_revision(service, system.service_module(service).MIGRATIONS, message)


def _register_service_commands() -> None:
    for name in system.SERVICE_NAMES:
        try:
            module = importlib.import_module(f"services.{name}.commands")
        except ModuleNotFoundError as exc:
            if exc.name != f"services.{name}.commands":
                raise
            continue
        module.register(app)


_register_service_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
    sys.exit(0)
