"""Developer helper: autogenerate a migration for one service against a scratch SQLite file."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from alembic import command

from services.kernel.db import Database
from services.kernel.migrations import alembic_config, upgrade
from services.kernel.settings import load_settings


def make_revision(service: str, script_location: Path, message: str) -> None:
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(environ={}, home=Path(home))
        db = Database(settings, service)

        async def run() -> None:
            await upgrade(db, script_location)
            async with db.engine.begin() as conn:
                await conn.run_sync(_revise, script_location, db, message)
            await db.dispose()

        asyncio.run(run())


def _revise(connection: object, script_location: Path, db: Database, message: str) -> None:
    cfg = alembic_config(script_location, db)
    cfg.attributes["connection"] = connection
    command.revision(cfg, message=message, autogenerate=True)
