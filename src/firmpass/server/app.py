"""The FastAPI application: server-rendered pages (Jinja2, autoescaped) and the /api/v1 REST API.

Routes live in firmpass.server.pages (one router per area) and firmpass.server.api; what they share is
firmpass.server.web.  Every object is reached through the organisations the user belongs to
(`Web.get_product`, `get_version`, `get_scan`): anything else is 404, the same answer as for an id that does not exist.  Forms carry the
session's CSRF token; the API takes only bearer tokens (no cookies), so it needs none.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from firmpass.server import triage
from firmpass.server.db import (FINDING_DECISIONS, ROLES, VEX_JUSTIFICATIONS, VEX_STATES, FindingDecision, Product, Scan,
                                Version, VexDecision, db_url, make_engine, now, sessionmaker_for, upgrade)
from firmpass.server.i18n import pick, t
from firmpass.server.web import CAN_WRITE, DOWNLOADS, MARKETS, LoginRequired, Web  # noqa: F401 - re-exported

HERE = Path(__file__).parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@dataclass
class Settings:
    data: Path
    db: str | None = None
    scheduler: str | None = None
    vulns_db: str | None = None
    pdf: bool = False
    max_upload: int = 1 << 30
    secure_cookies: bool = True
    workers: int = 1
    processes: bool = False  # LocalCluster workers as threads of the server (default) or as processes
    notify: dict[str, Any] = field(default_factory=dict)


class Server:
    """What the routes share: settings, the database, the Dask runner (started on first use)."""

    def __init__(self, cfg: Settings):
        self.cfg = cfg
        for sub in ("images", "scans", "tmp"):
            (cfg.data / sub).mkdir(parents=True, exist_ok=True)
        url = db_url(cfg.db, cfg.data)
        upgrade(url)
        self.engine = make_engine(url)
        self.Session = sessionmaker_for(self.engine)
        self._runner = None
        self._rlock = threading.Lock()

    @property
    def runner(self):
        with self._rlock:
            if self._runner is None:
                from firmpass.server.runner import Runner

                self._runner = Runner(self.cfg.scheduler, self.cfg.workers, self.cfg.processes)
            return self._runner

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
        self.engine.dispose()

    # ------------------------------------------------------------------ scans
    def scan_dir(self, scan_id: int) -> Path:
        return self.cfg.data / "scans" / str(scan_id)

    def image_path(self, sha256: str) -> Path:
        return self.cfg.data / "images" / sha256

    def submit(self, s, scan: Scan, runner=None) -> None:
        v = s.get(Version, scan.version_id)
        p = s.get(Product, v.product_id)
        d = self.scan_dir(scan.id)
        d.mkdir(parents=True, exist_ok=True)
        (d / "profile.yaml").write_text(yaml.safe_dump(p.profile, allow_unicode=True, sort_keys=False), encoding="utf-8")
        decisions = s.scalars(select(VexDecision).where(VexDecision.product_id == p.id)).all()
        vex = triage.write_vex(d / "triage.vex.json", list(decisions), p.name, now())
        fds = s.scalars(select(FindingDecision).where(FindingDecision.product_id == p.id)).all()
        fdec = triage.write_finding_decisions(d / "triage.findings.json", list(fds))
        scan.status, scan.attempts = "queued", scan.attempts + 1
        spec = {"image": str(self.image_path(v.sha256)), "out": str(d / "out"), "progress": str(d / "progress.jsonl"),
                "profile": str(d / "profile.yaml"), "vex": [str(vex)] if vex else [], "vulns_db": self.cfg.vulns_db,
                "decisions": str(fdec) if fdec else None,
                "pdf": self.cfg.pdf, "markets": p.profile.get("markets"), "name": f"scan-{scan.id}"}
        s.commit()
        (runner or self.runner.submit)(scan.id, spec, self.scan_done)

    def scan_done(self, scan_id: int, res: dict | None, err: str | None) -> None:
        with self.Session() as s:
            sc = s.get(Scan, scan_id)
            if sc is None:
                return
            sc.status = "done" if err is None else "failed"
            sc.summary, sc.error, sc.finished = res, err, now()
            s.commit()

    def run_now(self, s, scan: Scan) -> None:
        """Run a scan in this process and wait for it (`firmpass server demo`): the same task, no cluster."""
        from firmpass.server.runner import finish, scan_task

        self.submit(s, scan, runner=lambda sid, spec, done: _call(scan_task, sid, spec,
                                                                  lambda i, m, e: done(i, None, e) if e else finish(i, m, done)))

    def resume(self) -> int:
        """Scans left queued or running by a server that stopped: run them again (the upload is kept)."""
        with self.Session() as s:
            left = s.scalars(select(Scan).where(Scan.status.in_(("queued", "running")))).all()
            for sc in left:
                self.submit(s, sc)
            return len(left)


def _call(fn, sid: int, spec: dict, done) -> None:
    try:
        res = fn(spec)
    except Exception as e:  # noqa: BLE001 - recorded on the scan
        done(sid, None, str(e))
        return
    done(sid, res, None)


def create_app(cfg: Settings) -> FastAPI:
    """The team server: the pages (firmpass.server.pages), the REST API (firmpass.server.api) and what
    they share (firmpass.server.web)."""
    from contextlib import asynccontextmanager

    from firmpass.server.api import api_router
    from firmpass.server.pages import ROUTERS

    srv = Server(cfg)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        srv.close()

    app = FastAPI(title="firmpass team server", version="1", openapi_url="/api/v1/openapi.json", docs_url=None,
                  redoc_url=None, lifespan=lifespan)
    app.state.srv = srv
    tpl = Jinja2Templates(directory=str(HERE / "templates"))
    tpl.env.globals.update(t=t, pick=pick, MARKETS=MARKETS, ROLES=ROLES, VEX_STATES=VEX_STATES,
                           VEX_JUSTIFICATIONS=VEX_JUSTIFICATIONS, FINDING_DECISIONS=FINDING_DECISIONS,
                           DOWNLOADS=DOWNLOADS)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next):
        resp = await call_next(request)
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["X-Frame-Options"] = "DENY"
        return resp

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        return RedirectResponse("/login", status_code=303)

    w = Web(srv, tpl)
    for make in ROUTERS:
        app.include_router(make(w))
    app.include_router(api_router(w))
    for route in app.routes:  # the OpenAPI document describes the REST API, not the pages
        if hasattr(route, "include_in_schema") and not getattr(route, "path", "").startswith("/api/"):
            route.include_in_schema = False
    return app


__all__ = ["Settings", "create_app", "ROLES"]
