"""Privacy hardening: a shared server secret and the hashed network of each reaction.

Revision ID: 0002_privacy
Revises: 0001_initial
Create Date: 2026-01-20

``secrets`` holds the secret that keys the rate-limit hashes when none is configured, so that
every worker and replica on one database counts a client in one bucket. ``reactions.network``
is a keyed hash of the client's network cut to 12 bits, used to count distinct contributors
(k-anonymity against forged reactions); reactions stored before this revision have none and
count each on its own, as they did.

Self-contained on purpose (no import of the models).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_privacy"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),  # hex
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_secrets"),
    )
    # Nullable, so SQLite adds it in place (no table rebuild).
    op.add_column("reactions", sa.Column("network", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reactions") as batch:
        batch.drop_column("network")
    op.drop_table("secrets")
