"""ChatKit threads: a conversation is a thread, its messages are the thread's items.

- `conversations.thread_id`: the conversation's id as a ChatKit thread, 'thr_' and 32 hex digits unless
  ChatKit names it. 122 random bits: ChatKit's own default id has 32, which can be guessed. Existing
  conversations get one as the column is added (gen_random_uuid is built in since PostgreSQL 13).
- `conversations.thread_meta`: ChatKit's `status` and `metadata` of the thread.
- `messages.item_id`, `kind`, `item`: a ChatKit item's id, type and JSON. Items other than user and
  assistant messages are stored with the role `item`, which /chat never reads.
- (user_id, id) on conversations: a user's threads in creation order, paged by id.

Downgrading drops the ChatKit-only items (role `item`) with the columns that held them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_THREAD_ID_DEFAULT = "'thr_' || replace(gen_random_uuid()::text, '-', '')"


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column(
            "thread_id", sa.String(length=64), server_default=sa.text(_THREAD_ID_DEFAULT), nullable=False
        ),
    )
    op.add_column(
        "conversations", sa.Column("thread_meta", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.create_index("ix_conversations_thread_id", "conversations", ["thread_id"], unique=True)
    op.create_index("ix_conversations_user_id_id", "conversations", ["user_id", "id"])
    op.add_column("messages", sa.Column("item_id", sa.String(length=64), nullable=True))
    op.add_column("messages", sa.Column("kind", sa.String(length=40), nullable=True))
    op.add_column("messages", sa.Column("item", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_index(
        "ix_messages_conversation_id_item_id",
        "messages",
        ["conversation_id", "item_id"],
        unique=True,
        postgresql_where=sa.text("item_id IS NOT NULL"),
    )
    op.drop_constraint(op.f("ck_messages_role"), "messages", type_="check")
    op.create_check_constraint("role", "messages", "role IN ('user', 'assistant', 'item')")


def downgrade() -> None:
    op.execute("DELETE FROM messages WHERE role = 'item'")
    op.drop_constraint(op.f("ck_messages_role"), "messages", type_="check")
    op.create_check_constraint("role", "messages", "role IN ('user', 'assistant')")
    op.drop_index("ix_messages_conversation_id_item_id", table_name="messages")
    for column in ("item", "kind", "item_id"):
        op.drop_column("messages", column)
    op.drop_index("ix_conversations_user_id_id", table_name="conversations")
    op.drop_index("ix_conversations_thread_id", table_name="conversations")
    for column in ("thread_meta", "thread_id"):
        op.drop_column("conversations", column)
