"""sealed purpose and referent: the consent's purpose and a free-text referent are encrypted like
the person's data; a referent that names a staff account (a UUID subject) is kept as a reference.

Existing rows are converted here, with the service's keyring (the settings ``relais migrate``
runs with).

Revision ID: 8d3a61c4e2f0
Revises: 3135207a005c
Create Date: 2026-12-02 09:00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d3a61c4e2f0"
down_revision: str | None = "3135207a005c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_referrals = sa.table(
    "referrals",
    sa.column("id", sa.Uuid()),
    sa.column("referent", sa.String()),
    sa.column("consent_purpose", sa.String()),
    sa.column("referent_subject", sa.String()),
    sa.column("referent_enc", sa.Text()),
    sa.column("consent_purpose_enc", sa.Text()),
)


def _is_account(referent: str) -> bool:
    try:
        uuid.UUID(referent)
    except ValueError:
        return False
    return True


def _convert() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_referrals.c.id, _referrals.c.referent, _referrals.c.consent_purpose)
    ).all()
    if not rows:
        return
    from services.referrals.crypto import load_keyring

    keyring = load_keyring(op.get_context().config.attributes["settings"])
    for referral_id, referent, purpose in rows:
        account = referent is not None and _is_account(referent)
        bind.execute(
            sa.update(_referrals)
            .where(_referrals.c.id == referral_id)
            .values(
                referent_subject=referent if account else None,
                referent_enc=(
                    keyring.seal(referent, f"referral:{referral_id}:referent")
                    if referent is not None and not account
                    else None
                ),
                consent_purpose_enc=(
                    keyring.seal(purpose, f"referral:{referral_id}:purpose")
                    if purpose is not None
                    else None
                ),
            )
        )


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("referent_subject", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("referent_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("consent_purpose_enc", sa.Text(), nullable=True))
    _convert()
    with op.batch_alter_table("referrals") as batch:
        batch.drop_index("ix_referrals_referent")
        batch.drop_column("referent")
        batch.drop_column("consent_purpose")
        batch.create_index("ix_referrals_referent_subject", ["referent_subject"])


def downgrade() -> None:
    raise NotImplementedError("the referent and purpose were sealed; there is no way back")
