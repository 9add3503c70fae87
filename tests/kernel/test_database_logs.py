"""A failing query never logs the values bound to it (personal data): the log keeps the statement,
with its placeholders, and the error."""

from __future__ import annotations

import io
import logging
import uuid
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
import structlog

from services.kernel.db import Database
from services.kernel.observability import log_formatter, redact_database_error
from tests.conftest import Relais

SECRET = "marie.dupont@example.org"


async def failing_queries(db: Database) -> list[BaseException]:
    """Statements that fail with a personal value bound to them, on the system's own engine."""
    statements: list[tuple[str, dict[str, Any]]] = [
        ("SELECT email FROM no_such_table WHERE email = :email", {"email": SECRET}),
        ("SELECT * FROM no_such_table WHERE id = :id AND note = :note", {"id": 1, "note": SECRET}),
    ]
    if db.is_postgres:
        statements += [
            # asyncpg quotes the argument it could not encode
            ("SELECT CAST(:email AS integer)", {"email": SECRET}),
            # PostgreSQL quotes the text it could not parse
            ("SELECT CAST(CAST(:email AS text) AS uuid)", {"email": SECRET}),
        ]
    failures: list[BaseException] = []
    for statement, values in statements:
        failures.append(await _failure(db, [(statement, values)]))
    if db.is_postgres:  # the unique violation's DETAIL names the duplicate key's value
        table = f"dup_{uuid.uuid4().hex[:8]}"
        async with db.session() as session:
            await session.execute(sa.text(f"CREATE TABLE {table} (email text UNIQUE)"))
        try:
            insert = (f"INSERT INTO {table} VALUES (:email)", {"email": SECRET})
            failures.append(await _failure(db, [insert, insert]))
        finally:
            async with db.session() as session:
                await session.execute(sa.text(f"DROP TABLE {table}"))
    return failures


async def _failure(db: Database, statements: list[tuple[str, dict[str, Any]]]) -> BaseException:
    try:
        async with db.session() as session:
            for statement, values in statements:
                await session.execute(sa.text(statement), values)
    except sa.exc.DBAPIError as exc:
        return exc
    raise AssertionError("the statements were expected to fail")


async def test_failed_statements_are_logged_without_their_values(relais: Relais) -> None:
    db: Database = relais.app("directory").state.db
    failures = await failing_queries(db)
    # The chain the running system configured, for its own events…
    buffer = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(buffer), processors=structlog.get_config()["processors"]
    )
    # …and the formatter of the standard library's records (uvicorn's "Exception in ASGI
    # application"), as configure_logging installs it.
    formatter = log_formatter("json")
    for failure in failures:
        logger.error("unhandled_error", exc_info=failure)
        record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "boom", (), None)
        record.exc_info = (type(failure), failure, failure.__traceback__)
        buffer.write(formatter.format(record) + "\n")
    logged = buffer.getvalue()
    assert SECRET not in logged
    assert "marie" not in logged
    # The statement's shape and the error stay.
    assert logged.count("[SQL: ") == 2 * len(failures)
    assert "no_such_table WHERE email =" in logged
    assert "no such table" in logged or "does not exist" in logged
    if db.is_postgres:
        assert "invalid input for query argument $1" in logged
        assert "invalid input syntax for type uuid" in logged
        assert "duplicate key value violates unique constraint" in logged


async def test_echoed_statements_hide_their_values(
    relais: Relais, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(msgspec.structs.replace(relais.settings, database_echo=True), "directory")
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            async with db.session() as session:
                await session.execute(sa.text("SELECT :email AS echoed"), {"email": SECRET})
    finally:
        await db.dispose()
    assert "SELECT" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        (
            "invalid input for query argument $1: 'marie@x.fr' ('str' object cannot be "
            "interpreted as an integer)",
            "invalid input for query argument $1: … ('str' object cannot be interpreted",
        ),
        (
            'invalid input for query argument $2: "l\'adresse" (expected str, got int)',
            "invalid input for query argument $2: … (expected str, got int)",
        ),
        ('invalid input syntax for type uuid: "marie@x.fr"', "for type uuid: …"),
        (
            'duplicate key value violates unique constraint "uq_email"\n'
            "DETAIL:  Key (email)=(marie@x.fr) already exists.",
            'constraint "uq_email"\nDETAIL:  Key (email)=(…) already exists.',
        ),
        (
            "(sqlite3.OperationalError) no such table: t\n[SQL: SELECT * FROM t WHERE a = ?]\n"
            "[parameters: ('marie@x.fr',)]\n(Background on this error at: https://sqlalche.me)",
            "[SQL: SELECT * FROM t WHERE a = ?]\n(Background",
        ),
    ],
)
def test_redaction_keeps_the_error(message: str, kept: str) -> None:
    redacted = redact_database_error(message)
    assert "marie" not in redacted
    assert "adresse" not in redacted
    assert kept in redacted
