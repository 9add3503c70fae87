"""`relais create-admin`, `relais create-client`, `relais rotate-signing-key`,
`relais rotate-key-encryption-key`.

Modules that reach the database are imported inside each command: ``relais --help`` and the
other commands do not pay for them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from services.auth.domain.clients import plan_client
from services.kernel.commands import settings_or_exit
from services.kernel.identity import Scope

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.kernel.settings import Settings

T = TypeVar("T")


def _structure(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        typer.echo(f"--structure : identifiant invalide {value!r} (UUID attendu)", err=True)
        raise typer.Exit(2) from exc


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from services.kernel.db import Database

    async def main() -> T:
        db = Database(settings, "auth")
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
        from services.auth.invitations import invite_by_email
        from services.auth.models import Account
        from services.auth.store import accounts

        settings = settings_or_exit()
        structure_id = _structure(structure)
        if "@" not in email:
            typer.echo("--email : adresse invalide", err=True)
            raise typer.Exit(2)

        async def work(session: AsyncSession) -> dict[str, Any]:
            account = await accounts.account_by_email(session, email)
            if account is None:
                account = Account(email=accounts.normalize_email(email), status=accounts.INVITED)
                session.add(account)
                await session.flush()
            if moderator:
                account.is_moderator = True
            await accounts.add_membership(session, account.id, structure_id, "admin")
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
        from services.auth.keys import KeyRing

        settings = settings_or_exit()

        async def work(session: AsyncSession) -> dict[str, Any]:
            try:
                return {"resealed": await KeyRing(settings).reseal(session)}
            except ValueError as exc:
                typer.echo(f"Rotation impossible : {exc}", err=True)
                raise typer.Exit(2) from exc

        typer.echo(json.dumps(_run(settings, work)))

    @app.command("create-client")
    def create_client(
        scopes: Annotated[
            str, typer.Option(help='space-separated, e.g. "directory:read" (or "openid email")')
        ] = "",
        structure: Annotated[
            str, typer.Option(help="structure id (UUID) the client acts for / belongs to")
        ] = "",
        name: Annotated[str, typer.Option(help="name of the tool")] = "Client API",
        grant: Annotated[
            str, typer.Option(help="client_credentials (a tool) or authorization_code (an app)")
        ] = "client_credentials",
        redirect_uri: Annotated[
            list[str] | None,
            typer.Option("--redirect-uri", help="authorization_code: return address (repeatable)"),
        ] = None,
        public: Annotated[
            bool, typer.Option(help="authorization_code: an app that cannot keep a secret")
        ] = False,
    ) -> None:
        """Register an OAuth2 client; prints it as JSON, with its secret (shown once).

        client_credentials: a tool acting for --structure with API --scopes.
        authorization_code: an application staff sign in to (PKCE S256, refresh tokens), with
        one or more --redirect-uri; confidential by default, --public for apps without a secret.
        """
        from services.auth.store import clients

        settings = settings_or_exit()
        if grant not in ("client_credentials", "authorization_code"):
            typer.echo("--grant : client_credentials ou authorization_code", err=True)
            raise typer.Exit(2)
        if grant == "client_credentials" and not structure:
            typer.echo("--structure : obligatoire pour client_credentials", err=True)
            raise typer.Exit(2)
        structure_id = _structure(structure) if structure else None
        plan = plan_client(
            grant, scopes.split(), list(redirect_uri or []), public, [s.value for s in Scope]
        )
        if isinstance(plan, list):
            for error in plan:
                typer.echo(
                    f"--{error.field.split('[')[0].replace('_', '-')} : {error.reason}", err=True
                )
            raise typer.Exit(2)

        async def work(session: AsyncSession) -> dict[str, Any]:
            client, secret = await clients.create_client(
                session,
                name=name,
                structure_id=structure_id,
                scopes=plan.scopes,
                grant_types=plan.grant_types,
                redirect_uris=plan.redirect_uris,
                public=plan.public,
            )
            return {
                "client_id": client.client_id,
                "client_secret": secret,
                "structure_id": str(structure_id) if structure_id else None,
                "scopes": client.scopes.split(),
                "grant_types": list(client.grant_types),
                "redirect_uris": list(client.redirect_uris),
            }

        typer.echo(json.dumps(_run(settings, work)))

    @app.command("rotate-signing-key")
    def rotate_signing_key() -> None:
        """Add a new signing key: published in the JWKS now, used after the announce period."""
        from services.auth.keys import KeyRing

        settings = settings_or_exit()

        async def work(session: AsyncSession) -> dict[str, Any]:
            keyring = KeyRing(settings)
            await keyring.snapshot(session)  # make sure a current key exists
            row = await keyring.rotate(session)
            return {"kid": row.kid, "usable_from": row.usable_from.isoformat()}

        typer.echo(json.dumps(_run(settings, work)))
