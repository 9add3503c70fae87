"""Alembic per service: each service has its own history, version table and schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config

from services.kernel.db import Database


def alembic_config(script_location: Path, db: Database | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option(
        "file_template",
        "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s_%%(rev)s",
    )
    cfg.set_main_option("sqlalchemy.url", db.url if db else "sqlite://")
    if db is not None:
        cfg.attributes["schema"] = db.schema if db.is_postgres else None
        # For data migrations that need the service's configuration (e.g. its encryption keys).
        cfg.attributes["settings"] = db.settings
    return cfg


async def upgrade(db: Database, script_location: Path, revision: str = "head") -> None:
    """Create the service's schema if needed and apply its migrations."""
    async with db.engine.begin() as conn:
        if db.is_postgres:
            await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"'))
            # Serialise concurrent migrators of the same schema (several pods, test workers).
            await conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": db.schema}
            )
        cfg = alembic_config(script_location, db)
        await conn.run_sync(_run_upgrade, cfg, revision)


def _run_upgrade(connection: sa.Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


KERNEL_TABLE_PREFIX = "kernel_"
# Tables created by hand-written migrations, not by models: the kernel's, and the directory's
# search index (FTS5 virtual tables and their shadow tables, generated tsvector column).
UNMODELLED_TABLE_PREFIXES = (KERNEL_TABLE_PREFIX, "search_")


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate of a service ignores the kernel's tables that live beside its own."""
    unmodelled = (name or "").startswith(UNMODELLED_TABLE_PREFIXES)
    return not (type_ == "table" and compare_to is None and unmodelled)


def run_env(target_metadata: sa.MetaData, version_table: str = "alembic_version") -> None:
    """Body of every service's migrations/env.py (and of the kernel's job-lease history)."""
    config = context.config
    connection: Any = config.attributes.get("connection")
    if connection is None:
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
            render_as_batch=True,
            user_module_prefix="services.kernel.db.",
            version_table=version_table,
            include_object=_include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        user_module_prefix="services.kernel.db.",
        compare_type=True,
        version_table=version_table,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
