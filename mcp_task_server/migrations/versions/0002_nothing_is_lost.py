"""Nothing is lost: task versions and the trash, the activity log, idempotency keys, bulk confirmations.

Existing rows keep working: every task starts at version 1, on the list (not trashed).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ON_LIST = sa.text("trashed_at IS NULL")
_IN_TRASH = sa.text("trashed_at IS NOT NULL")


def upgrade() -> None:
    op.add_column("tasks", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("tasks", sa.Column("trashed_at", sa.DateTime(timezone=True), nullable=True))
    # The list's indexes now cover only tasks on the list; the trash has its own.
    op.drop_index("ix_tasks_user_completed_id", table_name="tasks")
    op.drop_index("ix_tasks_user_id_id", table_name="tasks")
    op.create_index(
        "ix_tasks_user_completed_id", "tasks", ["user_id", "completed", "id"], postgresql_where=_ON_LIST
    )
    op.create_index("ix_tasks_user_id_id", "tasks", ["user_id", "id"], postgresql_where=_ON_LIST)
    op.create_index("ix_tasks_user_trash_id", "tasks", ["user_id", "id"], postgresql_where=_IN_TRASH)
    op.create_index("ix_tasks_trashed_at", "tasks", ["trashed_at"], postgresql_where=_IN_TRASH)

    op.create_table(
        "task_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("reverts", sa.BigInteger(), nullable=True),
        sa.Column("undone_by", sa.BigInteger(), nullable=True),
        sa.Column("client", sa.String(length=200), server_default="", nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('create', 'update', 'complete', 'reopen', 'delete', 'restore', 'undo')",
            name=op.f("ck_task_changes_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_changes")),
    )
    op.create_index("ix_task_changes_user_id_id", "task_changes", ["user_id", "id"])
    op.create_index("ix_task_changes_user_task_id", "task_changes", ["user_id", "task_id", "id"])
    op.create_index(
        "ix_task_changes_batch_id",
        "task_changes",
        ["batch_id"],
        postgresql_where=sa.text("batch_id IS NOT NULL"),
    )
    op.create_index("ix_task_changes_created_at", "task_changes", ["created_at"])

    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])

    op.create_table(
        "bulk_confirmations",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("tasks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("action IN ('complete', 'delete')", name=op.f("ck_bulk_confirmations_action")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_bulk_confirmations")),
    )
    op.create_index("ix_bulk_confirmations_expires_at", "bulk_confirmations", ["expires_at"])


def downgrade() -> None:
    op.drop_table("bulk_confirmations")
    op.drop_table("idempotency_keys")
    op.drop_table("task_changes")
    # Trashed tasks cannot go back to a schema without a trash: they were deleted, so delete them.
    op.execute("DELETE FROM tasks WHERE trashed_at IS NOT NULL")
    op.drop_index("ix_tasks_trashed_at", table_name="tasks")
    op.drop_index("ix_tasks_user_trash_id", table_name="tasks")
    op.drop_index("ix_tasks_user_id_id", table_name="tasks")
    op.drop_index("ix_tasks_user_completed_id", table_name="tasks")
    op.create_index("ix_tasks_user_completed_id", "tasks", ["user_id", "completed", "id"])
    op.create_index("ix_tasks_user_id_id", "tasks", ["user_id", "id"])
    op.drop_column("tasks", "trashed_at")
    op.drop_column("tasks", "version")
