"""`relais` — the one command-line entry point.

Core commands live here; each service adds its own from its ``commands.py`` through
``register(app: typer.Typer)`` (directory: seed-demo, import, export, check-links…).

An operator runs these commands by hand: ``relais --help`` loads only typer and the settings,
and each command imports what it needs when it runs (the whole system for ``serve`` and
``worker``, one service's store for ``create-client``). ``bench/cli.py`` measures it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from services.auth import commands as auth_commands
from services.directory import commands as directory_commands
from services.kernel.commands import settings_errors_exit, settings_or_exit
from services.kernel.settings import Settings, load_settings
from services.referrals import commands as referrals_commands

app = typer.Typer(
    help="Relais — annuaire partagé et orientations avec consentement.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help and errors: rich formatting alone took a third of a second to load.
    rich_markup_mode=None,
)


def checked_for(settings: Settings, names: list[str]) -> None:
    """Production checks of the services this process runs (their required secrets)."""
    from services.kernel.settings import check_production

    with settings_errors_exit():
        check_production(settings, names)


def _names(services: list[str] | None) -> list[str]:
    from services import system

    names = services or list(system.SERVICE_NAMES)
    unknown = [n for n in names if n not in system.SERVICE_NAMES]
    if unknown:
        typer.echo(
            f"Service inconnu : {', '.join(unknown)} (attendu : {', '.join(system.SERVICE_NAMES)})",
            err=True,
        )
        raise typer.Exit(2)
    return names


def served_url(host: str, port: int) -> str:
    """The URL a browser on this machine reaches ``host:port`` at."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - every interface: this machine's loopback
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@app.command()
def serve(
    services: Annotated[
        list[str] | None, typer.Argument(help="services to run (default: RELAIS_SERVICES or all)")
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[
        int | None, typer.Option(help="server processes (default: SERVER_WORKERS)")
    ] = None,
) -> None:
    """Serve the given services (default: all, each under its prefix).

    Production: several uvicorn processes (each with its own database pool), graceful shutdown
    on SIGTERM (readiness off for SHUTDOWN_DRAIN_SECONDS, then SHUTDOWN_GRACE_SECONDS for
    in-flight requests, then the shutdown hooks; exit 0). Migrations run here only in embedded
    (SQLite) mode.
    """
    import os
    import tempfile

    import uvicorn

    from services import system

    if not any(os.environ.get(v) for v in ("RELAIS_BASE_URL", "RELAIS_BASE_URL_FILE")):
        # Links, e-mails and the OIDC issuer point at what is served (JWT_ISSUER follows).
        os.environ["RELAIS_BASE_URL"] = served_url(host, port)
    settings = settings_or_exit()
    names = _names(services or system.served_names(settings))
    checked_for(settings, names)
    # The server processes build their apps from the environment (services.system:serve_app).
    os.environ["RELAIS_SERVICES"] = ",".join(names)
    processes = workers or settings.server_workers
    if settings.embedded:
        asyncio.run(system.migrate(settings, names))
    if processes > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="relais-metrics-")
    uvicorn.run(
        "services.system:serve_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        workers=processes if processes > 1 else None,
        timeout_graceful_shutdown=max(int(settings.shutdown_grace_seconds), 1),
        # A spawned server process imports the whole system before it answers the supervisor's
        # ping; on a busy node that takes longer than uvicorn's 5 s default (restart loop).
        timeout_worker_healthcheck=120,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
    )


@app.command()
def migrate(services: Annotated[list[str] | None, typer.Argument()] = None) -> None:
    """Apply every service's database migrations (a separate step in production)."""
    from services import system

    settings = settings_or_exit()
    asyncio.run(system.migrate(settings, _names(services)))
    typer.echo("migrations appliquées")


@app.command("demo-accounts")
def demo_accounts() -> None:
    """Create the demo territory's staff accounts (after seed-demo; not in production) and
    print how to sign in with them."""
    from services.demo_accounts import DEMO_PASSWORD, DemoTerritoryMissing, create_demo_accounts

    settings = settings_or_exit()
    if settings.production:
        typer.echo("Comptes de démonstration refusés en production.", err=True)
        raise typer.Exit(2)
    try:
        created = asyncio.run(create_demo_accounts(settings))
    except DemoTerritoryMissing as missing:
        typer.echo(f"Territoire de démonstration absent ({missing}) : relais seed-demo", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD}) :")
    for account in created:
        persona = account.persona
        role = "administratrice" if persona.role == "admin" else "agent"
        if persona.moderator:
            role = "modération du réseau"
        where = account.structure_name or "toutes les structures"
        typer.echo(f"  {persona.email}\t{persona.name}, {role} — {where}")


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="comma-separated queues (default: all)")] = "",
    metrics_port: Annotated[
        int | None, typer.Option(help="/healthz, /readyz, /metrics port (default: setting)")
    ] = None,
    host: Annotated[str, typer.Option(help="address of that endpoint")] = "0.0.0.0",  # noqa: S104
) -> None:
    """Run background jobs (outbox, webhooks, emails, expiries, link checks, purges).

    Any number of workers may run: each job runs in one of them at a time, under a lease in its
    service's database. SIGTERM: nothing new starts, running jobs get SHUTDOWN_GRACE_SECONDS.
    """
    import signal
    from contextlib import AsyncExitStack

    from services import system
    from services.kernel.jobs import serve_endpoints

    settings = settings_or_exit()
    checked_for(settings, list(system.SERVICE_NAMES))
    apps, _ = system.build_apps(settings)
    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    jobs = system.service_jobs(apps, wanted)
    system.log_jobs("relais worker", jobs)
    runner = system.make_worker(settings, jobs)
    runner.databases = [a.state.db for a in apps.values()]
    port = settings.worker_metrics_port if metrics_port is None else metrics_port

    async def ready() -> bool:
        if runner.draining:
            return False
        return all([await db.ping() for db in runner.databases])

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if stop.is_set():  # second signal: stop now
                runner.grace_seconds = 0
                for task in list(runner.running.values()):
                    task.cancel()
            runner.draining = True
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        async with AsyncExitStack() as stack:
            for a in apps.values():
                await stack.enter_async_context(a.lifespan())
            if port:
                server = await serve_endpoints(port, host, ready)
                stack.push_async_callback(server.wait_closed)
                stack.callback(server.close)
            typer.echo(
                f"worker {runner.owner}: {len(jobs)} job(s)"
                f" [{', '.join(sorted({j.queue for j, _ in jobs})) or '-'}]",
                err=True,
            )
            await runner.run(stop)
        # Running jobs finished or were cancelled (leases released), pools disposed.
        typer.echo(f"worker {runner.owner}: stopped", err=True)

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


CONFIG_START = "<!-- config:start -->"
CONFIG_END = "<!-- config:end -->"


def render_config_table() -> str:
    """README's configuration table, generated from ENVIRONMENT_VARIABLES (between markers)."""
    import msgspec

    from services.kernel.settings import ENVIRONMENT_VARIABLES, Settings, secret_variables

    defaults = msgspec.to_builtins(Settings(), enc_hook=str)
    secrets = secret_variables()
    lines = [
        CONFIG_START,
        "<!-- generated by `make docs` (relais config-table); do not edit -->",
        "",
        "Every variable may also be given as `NAME_FILE`, the path of a file holding the value"
        " (mounted secrets). Secrets (🔒) belong in a Secret, never in a ConfigMap.",
        "",
        "| Variable | Default | Description |",
        "|---|---|---|",
    ]
    for variable, field, description in ENVIRONMENT_VARIABLES:
        value = defaults.get(field)
        shown = (
            ""
            if value in ("", None)
            else f"`{str(value).lower() if isinstance(value, bool) else value}`"
        )
        lock = " 🔒" if variable in secrets else ""
        text = description.replace("|", "\\|")
        lines.append(f"| `{variable}`{lock} | {shown} | {text} |")
    lines.append(CONFIG_END)
    return "\n".join(lines)


def replace_config_section(text: str, table: str) -> str:
    if CONFIG_START not in text or CONFIG_END not in text:
        return text.rstrip("\n") + "\n\n## Configuration\n\n" + table + "\n"
    before = text.split(CONFIG_START, 1)[0]
    after = text.split(CONFIG_END, 1)[1]
    return before + table + after


def sync_deploy_examples(deploy: Path) -> list[str]:
    """Append variables missing from deploy/.env.example and the base ConfigMap (defaults)."""
    import json

    import msgspec

    from services.kernel.settings import ENVIRONMENT_VARIABLES, Settings, secret_variables

    defaults = msgspec.to_builtins(Settings(), enc_hook=str)
    secrets = secret_variables()

    def text(field: str) -> str:
        value = defaults.get(field)
        if value in ("", None):
            return ""
        return str(value).lower() if isinstance(value, bool) else str(value)

    added: list[str] = []
    example = deploy / ".env.example"
    lines = example.read_text(encoding="utf-8").rstrip("\n").split("\n")
    present = {line.split("=", 1)[0] for line in lines if "=" in line and line[0] != "#"}
    for variable, field, description in ENVIRONMENT_VARIABLES:
        if variable not in present:
            lines += [f"# {description}", f"{variable}={text(field)}"]
            added.append(f"{example}: {variable}")
    example.write_text("\n".join(lines) + "\n", encoding="utf-8")
    configmap = deploy / "kubernetes" / "base" / "configmap.yaml"
    content = configmap.read_text(encoding="utf-8").rstrip("\n")
    for variable, field, _ in ENVIRONMENT_VARIABLES:
        if variable not in secrets and f"\n  {variable}:" not in content:
            content += f"\n  {variable}: {json.dumps(text(field), ensure_ascii=False)}"
            added.append(f"{configmap}: {variable}")
    configmap.write_text(content + "\n", encoding="utf-8")
    return added


@app.command("config-table")
def config_table(
    write: Annotated[
        Path | None, typer.Option(help="update this file between the config markers")
    ] = None,
    sync_deploy: Annotated[
        Path | None,
        typer.Option(help="also add new variables to DIR/.env.example and the base ConfigMap"),
    ] = None,
) -> None:
    """Print (or write into README.md) the table of environment variables."""
    table = render_config_table()
    if sync_deploy is not None:
        for line in sync_deploy_examples(sync_deploy):
            typer.echo(f"added {line}")
    if write is None:
        typer.echo(table)
        return
    write.write_text(replace_config_section(write.read_text(encoding="utf-8"), table), "utf-8")
    typer.echo(f"{write}: configuration table updated")


@app.command("make-migration", hidden=True)
def make_migration(service: str, message: str) -> None:
    """Developer tool: autogenerate a migration of SERVICE from its models."""
    from services import system
    from services.kernel.devtools import make_revision

    make_revision(service, system.service_module(service).MIGRATIONS, message)


for _commands in (directory_commands, referrals_commands, auth_commands):
    _commands.register(app)


def main() -> None:
    import structlog

    # A command's answer (JSON, ids) is its stdout; what it logs on the way goes to stderr, so
    # `relais create-admin … | jq` reads the answer alone. (serve and worker configure the full
    # log format when they build the system.)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    app()


if __name__ == "__main__":
    main()
    sys.exit(0)
