"""re-mask stored document numbers so no birth-date character stays visible

Revision ID: t10mask00003
Revises: t10claims001
Create Date: 2026-12-01 17:00:00

Masks of 15-character numbers (first-generation IDs, 2004 foreign permanent-residence cards)
kept birth-date characters, and other numbers of 15+ characters kept 6 + 4. The new mask keeps a
subset of the characters the old one kept, so it is computed from the stored mask alone: no key
is needed, and no plaintext is read.
"""
from alembic import op
import sqlalchemy as sa


revision = 't10mask00003'
down_revision = 't10claims001'
branch_labels = None
depends_on = None

TABLES = ("person", "case_check")


def _mask(masked: str) -> str:
    # The rule of app.crypto.mask_document as of this revision, applied to a masked value.
    n = masked
    if len(n) == 18:
        return n[:6] + "*" * 8 + n[-4:]
    if len(n) == 15:
        return n[:5] + "*" * 7 + n[-3:]
    if len(n) > 4:
        return n[:2] + "*" * (len(n) - 4) + n[-2:]
    return "*" * len(n)


def upgrade():
    conn = op.get_bind()
    for name in TABLES:
        table = sa.table(name, sa.column("id", sa.Integer), sa.column("document_masked",
                                                                       sa.String(32)))
        length = sa.func.length(table.c.document_masked)
        rows = conn.execute(sa.select(table.c.id, table.c.document_masked).where(
            length >= 15, length != 18)).all()
        for row_id, masked in rows:
            remasked = _mask(masked)
            if remasked != masked:
                conn.execute(table.update().where(table.c.id == row_id)
                             .values(document_masked=remasked))


def downgrade():
    # Hidden characters cannot be brought back (and must not be): nothing to undo.
    pass
