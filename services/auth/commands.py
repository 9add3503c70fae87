"""`relais create-admin`, `relais create-client`, `relais rotate-signing-key`,
`relais rotate-key-encryption-key`."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import store
from services.auth.api.admin import invite_by_email
from services.auth.app import SERVICE_NAME
from services.auth.keys import KeyRing
from services.auth.models import Account
from services.kernel.db import Database
from services.kernel.security import Scope
from services.kernel.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"Configuration invalide : {exc}", err=True)
        raise typer.Exit(2) from exc


def _structure(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        typer.echo(f"--structure : identifiant invalide {value!r} (UUID attendu)", err=True)
        raise typer.Exit(2) from exc


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(settings, SERVICE_NAME)
        try:
            async with db.session() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(main())


def register(app: typer.Typer) -> None:
    @app.command("create-admin")
    def create_admin(
        email: Annotated[str, typer.Option(help="e-mail of the administrator")],
        structure: Annotated[str, typer.Option(help="structure id (UUID, from the directory)")],
        moderator: Annotated[bool, typer.Option(help="also a network moderator")] = False,
    ) -> None:
        """Create (or promote) the administrator of a structure and e-mail them an invitation."""
        settings = _settings()
        structure_id = _structure(structure)
        if "@" not in email:
            typer.echo("--email : adresse invalide", err=True)
            raise typer.Exit(2)

        async def work(session: AsyncSession) -> dict[str, Any]:
            account = await store.account_by_email(session, email)
            if account is None:
                account = Account(email=store.normalize_email(email), status=store.INVITED)
                session.add(account)
                await session.flush()
            if moderator:
                account.is_moderator = True
            await store.add_membership(session, account.id, structure_id, "admin")
            invitation = await invite_by_email(
                settings,
                session,
                email=account.email,
                structure_id=structure_id,
                role="admin",
                invited_by=None,
            )
            return {
                "account_id": str(account.id),
                "email": account.email,
                "structure_id": str(structure_id),
                "role": "admin",
                "status": account.status,
                "invitation_expires_at": invitation.expires_at.isoformat(),
            }

        typer.echo(json.dumps(_run(settings, work)))

    @app.command("rotate-key-encryption-key")
    def rotate_key_encryption_key() -> None:
        """Re-seal every private signing key with AUTH_KEY_ENCRYPTION_KEY (reading old ones with
        AUTH_KEY_ENCRYPTION_KEY_PREVIOUS); afterwards the previous keys can be removed."""
        settings = _settings()

        async def work(session: AsyncSession) -> dict[str, Any]:
            try:
                return {"resealed": await KeyRing(settings).reseal(session)}
            except ValueError as exc:
                typer.echo(f"Rotation impossible : {exc}", err=True)
                raise typer.Exit(2) from exc

        typer.echo(json.dumps(_run(settings, work)))

    @app.command("create-client")
    def create_client(
        structure: Annotated[str, typer.Option(help="structure id (UUID) the client acts for")],
        scopes: Annotated[str, typer.Option(help='space-separated, e.g. "directory:read"')],
        name: Annotated[str, typer.Option(help="name of the tool")] = "Client API",
    ) -> None:
        """Register an API client (client_credentials); prints its secret once, as JSON."""
        settings = _settings()
        structure_id = _structure(structure)
        wanted = scopes.split()
        known = {s.value for s in Scope}
        unknown = [s for s in wanted if s not in known]
        if not wanted or unknown:
            typer.echo(
                f"--scopes : portées inconnues {unknown} (connues : {' '.join(sorted(known))})",
                err=True,
            )
            raise typer.Exit(2)

        async def work(session: AsyncSession) -> dict[str, Any]:
            client, secret = await store.create_client(
                session,
                name=name,
                structure_id=structure_id,
                scopes=sorted(set(wanted)),
                grant_types=["client_credentials"],
            )
            return {
                "client_id": client.client_id,
                "client_secret": secret,
                "structure_id": str(structure_id),
                "scopes": client.scopes.split(),
            }

        typer.echo(json.dumps(_run(settings, work)))

    @app.command("rotate-signing-key")
    def rotate_signing_key() -> None:
        """Add a new signing key: published in the JWKS now, used after the announce period."""
        settings = _settings()

        async def work(session: AsyncSession) -> dict[str, Any]:
            keyring = KeyRing(settings)
            await keyring.snapshot(session)  # make sure a current key exists
            row = await keyring.rotate(session)
            return {"kid": row.kid, "usable_from": row.usable_from.isoformat()}

        typer.echo(json.dumps(_run(settings, work)))
