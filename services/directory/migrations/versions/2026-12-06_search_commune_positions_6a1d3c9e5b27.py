"""search: entries without coordinates are placed at their commune's reference point; services
received only remotely have no position for distances

The database search documents follow ``services.directory.domain.positions``: a document with
no position but an INSEE code takes the commune's reference position (shipped in
``services/kernel/reference/data/cog/positions.csv.gz``); a service received only « à distance »
loses its position (no distance applies; it sorts after the located entries). A service with its
own commune but no coordinates, indexed at its structure's coordinates, moves to its commune's
point at its next change or ``relais reindex``. A Meilisearch index is rebuilt with
``relais reindex``.

Revision ID: 6a1d3c9e5b27
Revises: 8f3e2a61c0d7
Create Date: 2026-12-06 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kernel.db import JSONType
from services.kernel.reference import geography

revision: str = "6a1d3c9e5b27"
down_revision: str | None = "8f3e2a61c0d7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 500
documents = sa.table(
    "search_documents",
    sa.column("kind", sa.String),
    sa.column("entity_id", sa.Uuid),
    sa.column("commune_code", sa.String),
    sa.column("latitude", sa.Float),
    sa.column("longitude", sa.Float),
)
services = sa.table("services", sa.column("id", sa.Uuid), sa.column("reception_modes", JSONType()))


def upgrade() -> None:
    bind = op.get_bind()
    codes = bind.scalars(
        sa.select(documents.c.commune_code)
        .where(documents.c.latitude.is_(None), documents.c.commune_code.is_not(None))
        .distinct()
    ).all()
    values = []
    for code in codes:
        point = geography().position(code)
        if point is not None:
            values.append({"code": code, "lat": point.latitude, "lon": point.longitude})
    if values:
        bind.execute(
            sa.update(documents)
            .where(
                documents.c.commune_code == sa.bindparam("code"),
                documents.c.latitude.is_(None),
            )
            .values(latitude=sa.bindparam("lat"), longitude=sa.bindparam("lon")),
            values,
        )
    remote_only = [
        service_id
        for service_id, modes in bind.execute(sa.select(services.c.id, services.c.reception_modes))
        if "a-distance" in (modes or []) and "en-presentiel" not in (modes or [])
    ]
    for i in range(0, len(remote_only), CHUNK):
        bind.execute(
            sa.update(documents)
            .where(
                documents.c.kind == "service",
                documents.c.entity_id.in_(remote_only[i : i + CHUNK]),
            )
            .values(latitude=None, longitude=None)
        )


def downgrade() -> None:
    # Derived data: ``relais reindex`` on the older version rebuilds the documents it expects.
    pass
