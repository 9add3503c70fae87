"""referral data keys: each referral's personal values are sealed with its own data key, stored
wrapped by the keyring in a table of its own (``referral_keys``), so that erasing a referral
destroys its key (crypto-shredding). Attachments no longer name a keyring key (``attachments.key_id`` goes).

Existing rows are converted here, with the service's keyring (the settings ``relais migrate``
runs with): a new data key for every referral not erased yet, and each of its values (referral
fields including the person's feedback comment, handoff and timeline comments, attachment names and contents, stored idempotent answers)
opened with the keyring and sealed again with that data key. Stored answers that belong to no
live referral can no longer be opened once converted: they are dropped (a replay then answers
410, as after an erasure).

Revision ID: b7e2c94d1a36
Revises: 7b2e9c41d0a5
Create Date: 2026-12-06 13:10:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from services.kernel.db import UTCDateTime

revision: str = "b7e2c94d1a36"
down_revision: str | None = "7b2e9c41d0a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFERRAL_FIELDS = {
    "person_enc": "person",
    "summary_enc": "summary",
    "evaluation_comment_enc": "evaluation",
    "consent_purpose_enc": "purpose",
    "referent_enc": "referent",
    "person_feedback_comment_enc": "feedback",
}
_referrals = sa.table(
    "referrals",
    sa.column("id", sa.Uuid()),
    sa.column("erased_at", sa.DateTime()),
    *(sa.column(name, sa.Text()) for name in _REFERRAL_FIELDS),
)
_keys = sa.table(
    "referral_keys",
    sa.column("referral_id", sa.Uuid()),
    sa.column("wrapped", sa.Text()),
    sa.column("created_at", UTCDateTime(timezone=True)),
)
_handoffs = sa.table(
    "handoffs",
    sa.column("id", sa.Uuid()),
    sa.column("referral_id", sa.Uuid()),
    sa.column("comment_enc", sa.Text()),
)
_events = sa.table(
    "events",
    sa.column("id", sa.Uuid()),
    sa.column("referral_id", sa.Uuid()),
    sa.column("comment_enc", sa.Text()),
)
_attachments = sa.table(
    "attachments",
    sa.column("id", sa.Uuid()),
    sa.column("referral_id", sa.Uuid()),
    sa.column("filename_enc", sa.Text()),
    sa.column("key_id", sa.String()),
    sa.column("content", sa.LargeBinary()),
)
_idempotency = sa.table(
    "idempotency_keys",
    sa.column("owner", sa.String()),
    sa.column("key", sa.String()),
    sa.column("referral_id", sa.Uuid()),
    sa.column("response_enc", sa.Text()),
)


def _convert() -> None:
    bind = op.get_bind()
    referrals = bind.execute(
        sa.select(_referrals.c.id, *(_referrals.c[name] for name in _REFERRAL_FIELDS)).where(
            _referrals.c.erased_at.is_(None)
        )
    ).all()
    # Answers of erased or unknown referrals: nothing could open them once sealed anew.
    live = sa.select(_referrals.c.id).where(_referrals.c.erased_at.is_(None))
    bind.execute(
        sa.update(_idempotency)
        .where(
            _idempotency.c.response_enc.is_not(None),
            sa.or_(_idempotency.c.referral_id.is_(None), _idempotency.c.referral_id.not_in(live)),
        )
        .values(response_enc=None)
    )
    if not referrals:
        return
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from services.referrals.crypto import DataKey, load_keyring

    keyring = load_keyring(op.get_context().config.attributes["settings"])
    now = datetime.now(UTC)

    for row in referrals:
        referral_id = row[0]
        data_key = DataKey.generate()

        def reseal(token: str | None, context: str, key: DataKey = data_key) -> str | None:
            return None if token is None else key.seal(keyring.open(token, context), context)

        bind.execute(
            sa.insert(_keys).values(
                referral_id=referral_id, wrapped=keyring.wrap(data_key, referral_id), created_at=now
            )
        )
        values = {
            name: reseal(getattr(row, name), f"referral:{referral_id}:{place}")
            for name, place in _REFERRAL_FIELDS.items()
        }
        bind.execute(sa.update(_referrals).where(_referrals.c.id == referral_id).values(values))
        for table, kind in ((_handoffs, "handoff"), (_events, "event")):
            for item_id, comment in bind.execute(
                sa.select(table.c.id, table.c.comment_enc).where(
                    table.c.referral_id == referral_id, table.c.comment_enc.is_not(None)
                )
            ).all():
                bind.execute(
                    sa.update(table)
                    .where(table.c.id == item_id)
                    .values(comment_enc=reseal(comment, f"{kind}:{item_id}:comment"))
                )
        for attachment_id, filename, key_id, content in bind.execute(
            sa.select(
                _attachments.c.id,
                _attachments.c.filename_enc,
                _attachments.c.key_id,
                _attachments.c.content,
            ).where(_attachments.c.referral_id == referral_id)
        ).all():
            context = f"attachment:{attachment_id}"
            sealed = None
            if content is not None and key_id is not None:
                # The former layout: nonce + ciphertext under the keyring key ``key_id``.
                plain = AESGCM(keyring.keys[key_id]).decrypt(
                    content[:12], content[12:], context.encode()
                )
                sealed = data_key.seal_bytes(plain, context)
            bind.execute(
                sa.update(_attachments)
                .where(_attachments.c.id == attachment_id)
                .values(filename_enc=reseal(filename, context), content=sealed)
            )
        for owner, key, response in bind.execute(
            sa.select(_idempotency.c.owner, _idempotency.c.key, _idempotency.c.response_enc).where(
                _idempotency.c.referral_id == referral_id, _idempotency.c.response_enc.is_not(None)
            )
        ).all():
            bind.execute(
                sa.update(_idempotency)
                .where(_idempotency.c.owner == owner, _idempotency.c.key == key)
                .values(response_enc=reseal(response, f"idempotency:{owner}:{key}"))
            )


def upgrade() -> None:
    op.create_table(
        "referral_keys",
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("referral_id"),
    )
    _convert()
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("key_id")


def downgrade() -> None:
    raise NotImplementedError("values were sealed with per-referral keys; there is no way back")
