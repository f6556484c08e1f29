"""Tasks people keep: due dates (with the zone they were given in, and recurrence), priority, tags,
when a task was completed, full-text search, and each user's last known time zone.

Existing rows keep working: no due date, priority none (0), no tags; completed tasks get their
`updated_at` as completion time, the best that is known.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ON_LIST = sa.text("trashed_at IS NULL")
# The built-in 'simple' configuration: no stemming dictionary to install, on any PostgreSQL (the
# embedded one included, which has no pg_trgm), and it works for every language's words as they are.
SEARCH_DOCUMENT = "to_tsvector('simple', title || ' ' || coalesce(description, ''))"


def upgrade() -> None:
    op.add_column("tasks", sa.Column("due_date", sa.Date(), nullable=True))
    op.add_column("tasks", sa.Column("due_datetime", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tasks", sa.Column("due_timezone", sa.String(length=64), nullable=True))
    op.add_column("tasks", sa.Column("due_string", sa.String(length=200), nullable=True))
    op.add_column("tasks", sa.Column("due_recurrence", sa.String(length=64), nullable=True))
    op.add_column("tasks", sa.Column("priority", sa.SmallInteger(), server_default="0", nullable=False))
    op.add_column(
        "tasks",
        sa.Column("tags", postgresql.ARRAY(sa.String(length=50)), server_default="{}", nullable=False),
    )
    op.add_column("tasks", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE tasks SET completed_at = updated_at WHERE completed")
    op.add_column(
        "tasks",
        sa.Column(
            "search", postgresql.TSVECTOR(), sa.Computed(SEARCH_DOCUMENT, persisted=True), nullable=True
        ),
    )
    op.create_check_constraint("priority_range", "tasks", "priority BETWEEN 0 AND 3")
    op.create_check_constraint("tags_count", "tasks", "cardinality(tags) <= 20")
    op.create_check_constraint("due_complete", "tasks", "(due_date IS NULL) = (due_timezone IS NULL)")
    op.create_index("ix_tasks_user_due_id", "tasks", ["user_id", "due_date", "id"], postgresql_where=_ON_LIST)
    op.create_index(
        "ix_tasks_user_priority_id", "tasks", ["user_id", "priority", "id"], postgresql_where=_ON_LIST
    )
    op.create_index(
        "ix_tasks_user_completed_at", "tasks", ["user_id", "completed_at"], postgresql_where=_ON_LIST
    )
    op.create_index("ix_tasks_tags", "tasks", ["tags"], postgresql_using="gin", postgresql_where=_ON_LIST)
    op.create_index("ix_tasks_search", "tasks", ["search"], postgresql_using="gin", postgresql_where=_ON_LIST)
    op.create_table(
        "user_settings",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_settings")),
    )


def downgrade() -> None:
    op.drop_table("user_settings")
    for index in (
        "ix_tasks_search",
        "ix_tasks_tags",
        "ix_tasks_user_completed_at",
        "ix_tasks_user_priority_id",
        "ix_tasks_user_due_id",
    ):
        op.drop_index(index, table_name="tasks")
    for constraint in ("due_complete", "tags_count", "priority_range"):
        op.drop_constraint(op.f(f"ck_tasks_{constraint}"), "tasks", type_="check")
    for column in (
        "search",
        "completed_at",
        "tags",
        "priority",
        "due_recurrence",
        "due_string",
        "due_timezone",
        "due_datetime",
        "due_date",
    ):
        op.drop_column("tasks", column)
