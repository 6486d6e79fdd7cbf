"""Initial schema: animations, reactions, rate_events.

Revision ID: 0001_initial
Revises:
Create Date: 2025-11-26

Self-contained on purpose (no import of the models): a migration describes the schema as it
was at this revision, whatever the models become later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "animations",
        sa.Column("id", sa.String(128), nullable=False),  # content hash given by the caller
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("band", sa.String(64), nullable=True),
        sa.Column("years_from", sa.Integer(), nullable=False),
        sa.Column("years_to", sa.Integer(), nullable=False),
        # bbox in WGS84 degrees: x = longitude, y = latitude
        sa.Column("minx", sa.Float(), nullable=False),
        sa.Column("miny", sa.Float(), nullable=False),
        sa.Column("maxx", sa.Float(), nullable=False),
        sa.Column("maxy", sa.Float(), nullable=False),
        sa.Column("fps", sa.Float(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_animations"),
    )
    op.create_index("ix_animations_product", "animations", ["product"])

    op.create_table(
        "reactions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("animation_id", sa.String(128), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),  # sha256 hex, never the token
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),  # coarsened before storage
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("h3_cell", sa.String(16), nullable=False),  # resolution 9
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("years_from", sa.Integer(), nullable=False),
        sa.Column("years_to", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reactions"),
        sa.ForeignKeyConstraint(
            ["animation_id"],
            ["animations.id"],
            name="fk_reactions_animation_id_animations",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "animation_id", "token_hash", name="uq_reactions_animation_id_token_hash"
        ),
        sa.CheckConstraint("value IN (1, -1)", name="ck_reactions_value"),
    )
    op.create_index(
        "ix_reactions_product_years_from_years_to",
        "reactions",
        ["product", "years_from", "years_to"],
    )

    op.create_table(
        "rate_events",
        sa.Column("key_hash", sa.String(64), nullable=False),  # sha256(daily salt + ip)
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),  # epoch seconds
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "key_hash", "action", "window_s", "window_start", name="pk_rate_events"
        ),
    )
    op.create_index("ix_rate_events_expires_at", "rate_events", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_events_expires_at", table_name="rate_events")
    op.drop_table("rate_events")
    op.drop_index("ix_reactions_product_years_from_years_to", table_name="reactions")
    op.drop_table("reactions")
    op.drop_index("ix_animations_product", table_name="animations")
    op.drop_table("animations")
