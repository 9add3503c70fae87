"""SQLite connections go back to the pool without a transaction: the pool rolls back only what
is still open (a committed session costs no second trip to the driver's thread)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kernel.db import Database
from tests.conftest import make_settings
from tests.tokens import TokenFactory


async def test_a_transaction_left_open_is_rolled_back_when_the_connection_returns(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    db = Database(make_settings("sqlite", tmp_path, tokens), "web")
    try:
        async with db.session() as session:
            await session.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            await session.execute(sa.text("INSERT INTO t VALUES (1)"))
        async with db.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            await driver.execute("INSERT INTO t VALUES (2)")  # behind SQLAlchemy's back
            assert driver.in_transaction
        async with db.session() as session:
            driver = (await (await session.connection()).get_raw_connection()).driver_connection
            assert await session.scalar(sa.text("SELECT group_concat(x) FROM t")) == "1"
        assert not driver.in_transaction
    finally:
        await db.dispose()
