"""profiles merged_into partial index

Revision ID: e0251726d813
Revises: 98479f52f1f4
Create Date: 2026-11-24 17:46:48.199720

The index on ``profiles.merged_into`` covers merged profiles only. Nearly every profile is
live (NULL there); SQLite's statistics count those NULLs as one value, so ``merged_into = ?``
looked unselective and reading a profile scanned the table. (Autogenerate does not compare
an index's WHERE clause, hence written by hand.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0251726d813"
down_revision: str | None = "98479f52f1f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MERGED = sa.text("merged_into IS NOT NULL")


def upgrade() -> None:
    # Plain index operations: SQLite needs no table copy for them.
    op.drop_index("ix_profiles_merged_into", table_name="profiles")
    op.create_index(
        "ix_profiles_merged_into",
        "profiles",
        ["merged_into"],
        unique=False,
        sqlite_where=_MERGED,
        postgresql_where=_MERGED,
    )


def downgrade() -> None:
    op.drop_index("ix_profiles_merged_into", table_name="profiles")
    op.create_index("ix_profiles_merged_into", "profiles", ["merged_into"], unique=False)
