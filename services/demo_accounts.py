"""Staff accounts of the demo territory, so that a visitor can sign in to the web app right after
``make run``: a CCAS social worker who orients people, a France Services agent and a mediator
who receive them, an administrator of the CCAS, and a network moderator. They share one password,
printed by ``relais demo-accounts``; outside development they are refused.

This is the composition root's job (like ``services.system``): the accounts live in the auth
service, the structures they work for in the directory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from services.auth.crypto import hash_password
from services.auth.models import Account
from services.auth.store import accounts
from services.directory.demo.generator import ID_PREFIX, SOURCE
from services.directory.models import Structure
from services.kernel.db import Database
from services.kernel.settings import Settings

DEMO_PASSWORD = "orienter-avec-relais"  # noqa: S105 - published: demo accounts only


@dataclass(frozen=True)
class Persona:
    email: str
    name: str
    structure_key: str | None  # the demo territory's key of its structure (structures.toml)
    role: str = "member"  # or admin
    moderator: bool = False


PERSONAS = (
    Persona("camille.martin@ccas-valence.example.org", "Camille Martin", "ccas-valence", "member"),
    Persona("sophie.girard@ccas-valence.example.org", "Sophie Girard", "ccas-valence", "admin"),
    Persona("nadia.benali@fs-nyons.example.org", "Nadia Benali", "france-services-nyons", "member"),
    Persona("lucas.roux@pimms-drome.example.org", "Lucas Roux", "pimms-drome", "member"),
    Persona("reseau@drome.example.org", "Équipe réseau Drôme", None, moderator=True),
)


class DemoTerritoryMissing(Exception):
    """The demo structures are not in the directory (``relais seed-demo`` first)."""


@dataclass(frozen=True)
class DemoAccount:
    persona: Persona
    structure_name: str | None


async def create_demo_accounts(settings: Settings) -> list[DemoAccount]:
    """Create the demo accounts, or bring existing ones back to their demo role and password
    (idempotent)."""
    keys = {p.structure_key for p in PERSONAS if p.structure_key is not None}
    structures = await _demo_structures(settings, keys)
    password_hash = hash_password(DEMO_PASSWORD)
    db = Database(settings, "auth")
    try:
        async with db.session() as session:
            for persona in PERSONAS:
                account = await accounts.account_by_email(session, persona.email)
                if account is None:
                    account = Account(email=accounts.normalize_email(persona.email))
                    session.add(account)
                account.name = persona.name
                account.password_hash = password_hash
                account.status = accounts.ACTIVE
                account.email_verified = True
                account.is_moderator = persona.moderator
                await session.flush()
                if persona.structure_key is not None:
                    structure_id, _ = structures[persona.structure_key]
                    await accounts.add_membership(session, account.id, structure_id, persona.role)
    finally:
        await db.dispose()
    return [
        DemoAccount(p, structures[p.structure_key][1] if p.structure_key else None)
        for p in PERSONAS
    ]


async def _demo_structures(settings: Settings, keys: set[str]) -> dict[str, tuple[uuid.UUID, str]]:
    db = Database(settings, "directory")
    try:
        async with db.session() as session:
            rows = await session.execute(
                sa.select(Structure.source_id, Structure.id, Structure.name).where(
                    Structure.source == SOURCE,
                    Structure.source_id.in_([ID_PREFIX + key for key in keys]),
                )
            )
            found = {str(row.source_id)[len(ID_PREFIX) :]: (row.id, row.name) for row in rows}
    finally:
        await db.dispose()
    missing = keys - set(found)
    if missing:
        raise DemoTerritoryMissing(", ".join(sorted(missing)))
    return found
