"""The team server's tables (SQLAlchemy 2; SQLite under the data dir or PostgreSQL by URL).

The schema is created and upgraded by Alembic (firmpass/server/migrations); these classes are the
ORM view of it.  Every row that belongs to an organisation reaches it through `org_id` (products
directly, versions/scans/decisions through their product) so one join decides visibility.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

ROLES = ("admin", "analyst", "viewer")  # analyst and admin may triage and upload; viewer only reads
VEX_STATES = ("not_affected", "affected", "fixed", "under_investigation")
# CycloneDX analysis.justification codes (the model's vocabulary; CSAF labels are derived by vulns.vex)
VEX_JUSTIFICATIONS = ("code_not_present", "code_not_reachable", "requires_configuration", "requires_dependency",
                      "requires_environment", "protected_by_compiler", "protected_at_runtime",
                      "protected_at_perimeter", "protected_by_mitigating_control")
FINDING_DECISIONS = ("accepted_risk", "fixed_in_version")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Base(DeclarativeBase):
    pass


class Org(Base):
    __tablename__ = "fp_org"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[str] = mapped_column(String(40), default=now)


class User(Base):
    __tablename__ = "fp_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    pw_hash: Mapped[str] = mapped_column(String(300))
    created: Mapped[str] = mapped_column(String(40), default=now)


class Member(Base):
    __tablename__ = "fp_member"
    user_id: Mapped[int] = mapped_column(ForeignKey("fp_user.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("fp_org.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))


class ApiToken(Base):
    __tablename__ = "fp_api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("fp_user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token; the token is shown once
    created: Mapped[str] = mapped_column(String(40), default=now)
    last_used: Mapped[str | None] = mapped_column(String(40), nullable=True)


class WebSession(Base):
    __tablename__ = "fp_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie value
    user_id: Mapped[int] = mapped_column(ForeignKey("fp_user.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))
    created: Mapped[str] = mapped_column(String(40), default=now)
    expires: Mapped[str] = mapped_column(String(40))


class Product(Base):
    __tablename__ = "fp_product"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("fp_org.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)  # validated against firmpass/profile/schema.json
    created: Mapped[str] = mapped_column(String(40), default=now)


class Version(Base):
    __tablename__ = "fp_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("fp_product.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    shipped: Mapped[int] = mapped_column(Integer, default=1)  # watched after launch
    uploaded_by: Mapped[str] = mapped_column(String(320), default="")
    created: Mapped[str] = mapped_column(String(40), default=now)


class Scan(Base):
    __tablename__ = "fp_scan"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("fp_version.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued running done failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created: Mapped[str] = mapped_column(String(40), default=now)
    finished: Mapped[str | None] = mapped_column(String(40), nullable=True)


class VexDecision(Base):
    """One triage decision on a vulnerability of a product version; the newest per (product,
    vulnerability, component) is written into the next scan's VEX input."""
    __tablename__ = "fp_vex_decision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("fp_product.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("fp_version.id", ondelete="CASCADE"))
    vuln_id: Mapped[str] = mapped_column(String(100))
    component: Mapped[str] = mapped_column(String(500))  # the component's purl, or its name
    status: Mapped[str] = mapped_column(String(30))
    justification: Mapped[str | None] = mapped_column(String(60), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str] = mapped_column(String(320))
    at: Mapped[str] = mapped_column(String(40), default=now)


class FindingDecision(Base):
    __tablename__ = "fp_finding_decision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("fp_product.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("fp_version.id", ondelete="CASCADE"))
    finding: Mapped[str] = mapped_column(String(200))  # the check id (decisions follow the check across versions)
    kind: Mapped[str] = mapped_column(String(30))  # accepted_risk | fixed_in_version
    fixed_in: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str] = mapped_column(String(320))
    at: Mapped[str] = mapped_column(String(40), default=now)


class Event(Base):
    """Post-market events: watch runs, newly exploited vulnerabilities, notifications sent or failed."""
    __tablename__ = "fp_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("fp_product.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[str] = mapped_column(String(40), default=now)


def db_url(spec: str | None, data: Path) -> str:
    """`--db` as given (postgresql+psycopg://...), or SQLite at DATA/server.db."""
    if spec:
        return spec
    return f"sqlite:///{(data / 'server.db').resolve()}"


def _sqlite_fk(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        eng = create_engine(url, future=True, connect_args={"check_same_thread": False})
        event.listen(eng, "connect", _sqlite_fk)
        return eng
    return create_engine(url, future=True, pool_pre_ping=True)


def upgrade(url: str) -> None:
    """Bring the database to the newest schema (Alembic `upgrade head`)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def sessionmaker_for(engine: Engine):
    return sessionmaker(engine, expire_on_commit=False, future=True)
