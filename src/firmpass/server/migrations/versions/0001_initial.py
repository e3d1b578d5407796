"""the team server's first schema: organisations, users, products, versions, scans, triage, events

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id():
    return sa.Column("id", sa.Integer, primary_key=True)


def _at(name="created", nullable=False):
    return sa.Column(name, sa.String(40), nullable=nullable)


def upgrade() -> None:
    op.create_table("fp_org", _id(), sa.Column("name", sa.String(200), nullable=False, unique=True), _at())
    op.create_table("fp_user", _id(), sa.Column("email", sa.String(320), nullable=False, unique=True),
                    sa.Column("name", sa.String(200), nullable=False), sa.Column("pw_hash", sa.String(300), nullable=False),
                    _at())
    op.create_table("fp_member",
                    sa.Column("user_id", sa.Integer, sa.ForeignKey("fp_user.id", ondelete="CASCADE"), primary_key=True),
                    sa.Column("org_id", sa.Integer, sa.ForeignKey("fp_org.id", ondelete="CASCADE"), primary_key=True),
                    sa.Column("role", sa.String(20), nullable=False))
    op.create_table("fp_api_token", _id(),
                    sa.Column("user_id", sa.Integer, sa.ForeignKey("fp_user.id", ondelete="CASCADE"), nullable=False),
                    sa.Column("name", sa.String(200), nullable=False),
                    sa.Column("token_hash", sa.String(64), nullable=False, unique=True), _at(), _at("last_used", True))
    op.create_table("fp_session", sa.Column("id", sa.String(64), primary_key=True),
                    sa.Column("user_id", sa.Integer, sa.ForeignKey("fp_user.id", ondelete="CASCADE"), nullable=False),
                    sa.Column("csrf", sa.String(64), nullable=False), _at(), _at("expires"))
    op.create_table("fp_product", _id(),
                    sa.Column("org_id", sa.Integer, sa.ForeignKey("fp_org.id", ondelete="CASCADE"), nullable=False, index=True),
                    sa.Column("name", sa.String(200), nullable=False), sa.Column("profile", sa.JSON, nullable=False), _at())
    op.create_table("fp_version", _id(),
                    sa.Column("product_id", sa.Integer, sa.ForeignKey("fp_product.id", ondelete="CASCADE"), nullable=False,
                              index=True),
                    sa.Column("label", sa.String(200), nullable=False), sa.Column("filename", sa.String(300), nullable=False),
                    sa.Column("sha256", sa.String(64), nullable=False), sa.Column("size", sa.Integer, nullable=False),
                    sa.Column("shipped", sa.Integer, nullable=False), sa.Column("uploaded_by", sa.String(320), nullable=False),
                    _at())
    op.create_table("fp_scan", _id(),
                    sa.Column("version_id", sa.Integer, sa.ForeignKey("fp_version.id", ondelete="CASCADE"), nullable=False,
                              index=True),
                    sa.Column("status", sa.String(20), nullable=False), sa.Column("attempts", sa.Integer, nullable=False),
                    sa.Column("error", sa.Text, nullable=True), sa.Column("summary", sa.JSON, nullable=True),
                    _at(), _at("finished", True))
    for name, extra in (("fp_vex_decision", [sa.Column("vuln_id", sa.String(100), nullable=False),
                                             sa.Column("component", sa.String(500), nullable=False),
                                             sa.Column("status", sa.String(30), nullable=False),
                                             sa.Column("justification", sa.String(60), nullable=True),
                                             sa.Column("note", sa.Text, nullable=False)]),
                        ("fp_finding_decision", [sa.Column("finding", sa.String(200), nullable=False),
                                                 sa.Column("kind", sa.String(30), nullable=False),
                                                 sa.Column("fixed_in", sa.String(200), nullable=True),
                                                 sa.Column("reason", sa.Text, nullable=False)])):
        op.create_table(name, _id(),
                        sa.Column("product_id", sa.Integer, sa.ForeignKey("fp_product.id", ondelete="CASCADE"),
                                  nullable=False, index=True),
                        sa.Column("version_id", sa.Integer, sa.ForeignKey("fp_version.id", ondelete="CASCADE"),
                                  nullable=False),
                        *extra, sa.Column("who", sa.String(320), nullable=False), _at("at"))
    op.create_table("fp_event", _id(),
                    sa.Column("product_id", sa.Integer, sa.ForeignKey("fp_product.id", ondelete="CASCADE"), nullable=False,
                              index=True),
                    sa.Column("kind", sa.String(40), nullable=False), sa.Column("detail", sa.JSON, nullable=False), _at("at"))


def downgrade() -> None:
    for t in ("fp_event", "fp_finding_decision", "fp_vex_decision", "fp_scan", "fp_version", "fp_product",
              "fp_session", "fp_api_token", "fp_member", "fp_user", "fp_org"):
        op.drop_table(t)
