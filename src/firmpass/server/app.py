"""The FastAPI application: server-rendered pages (Jinja2, autoescaped) and the /api/v1 REST API.

Every object is reached through the organisations the user belongs to (`_product`, `_version`,
`_scan`): anything else is 404, the same answer as for an id that does not exist.  Forms carry the
session's CSRF token; the API takes only bearer tokens (no cookies), so it needs none.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from firmpass.server import auth, forms, triage
from firmpass.server.db import (FINDING_DECISIONS, ROLES, VEX_JUSTIFICATIONS, VEX_STATES, Event, FindingDecision,
                                Member, Org, Product, Scan, User, Version, VexDecision, db_url, make_engine, now,
                                sessionmaker_for, upgrade)
from firmpass.server.i18n import LANGS, pick, t

HERE = Path(__file__).parent
MARKETS = ("eu", "uk", "us", "cn")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
DOWNLOADS = {"report": "report.html", "report_pdf": "report.pdf", "evidence": "evidence.zip",
             "findings": "findings.json", "csaf": "evidence/vex.csaf.json", "sbom": "sbom.cdx.json"}
CAN_WRITE = ("admin", "analyst")


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


class LoginRequired(Exception):
    pass


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
    from contextlib import asynccontextmanager

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

    # ------------------------------------------------------------------ helpers
    def db():
        with srv.Session() as s:
            yield s

    def lang_of(request: Request) -> str:
        lang = request.cookies.get("fp_lang")
        if lang in LANGS:
            return lang
        return "zh" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"

    def page_ctx(request: Request, s=Depends(db)) -> dict[str, Any]:
        ws = auth.session_for(s, request.cookies.get(auth.SESSION_COOKIE))
        if ws is None:
            raise LoginRequired()
        user = s.get(User, ws.user_id)
        roles = {m.org_id: m.role for m in s.scalars(select(Member).where(Member.user_id == user.id))}
        return {"request": request, "s": s, "user": user, "session": ws, "roles": roles, "lang": lang_of(request),
                "csrf": ws.csrf}

    def render(ctx: dict[str, Any], name: str, status: int = 200, **kw) -> HTMLResponse:
        data = {k: v for k, v in ctx.items() if k != "s"}
        data.update(kw)
        return tpl.TemplateResponse(ctx["request"], name, data, status_code=status)

    async def form_checked(ctx: dict[str, Any]) -> dict[str, Any]:
        form = await ctx["request"].form()
        if not auth.csrf_ok(ctx["csrf"], form.get("csrf")):
            raise HTTPException(403, t("err.csrf", ctx["lang"]))
        return form

    def need_write(ctx_or_role, org_id: int | None = None, lang: str = "en") -> None:
        role = ctx_or_role if isinstance(ctx_or_role, str) else ctx_or_role["roles"].get(org_id)
        if role not in CAN_WRITE:
            raise HTTPException(403, t("err.forbidden", lang))

    def _product(s, roles: dict[int, str], pid: int) -> Product:
        p = s.get(Product, pid)
        if p is None or p.org_id not in roles:
            raise HTTPException(404, "not found / 未找到")
        return p

    def _version(s, roles, vid: int) -> tuple[Version, Product]:
        v = s.get(Version, vid)
        if v is None:
            raise HTTPException(404, "not found / 未找到")
        return v, _product(s, roles, v.product_id)

    def _scan(s, roles, sid: int) -> tuple[Scan, Version, Product]:
        sc = s.get(Scan, sid)
        if sc is None:
            raise HTTPException(404, "not found / 未找到")
        v, p = _version(s, roles, sc.version_id)
        return sc, v, p

    def latest_scan(s, vid: int, done: bool = False) -> Scan | None:
        q = select(Scan).where(Scan.version_id == vid)
        if done:
            q = q.where(Scan.status == "done")
        return s.scalars(q.order_by(Scan.id.desc()).limit(1)).first()

    def load_out(sc: Scan | None) -> tuple[dict, dict]:
        if sc is None or sc.status != "done":
            return {}, {}
        out = srv.scan_dir(sc.id) / "out"
        try:
            f = json.loads((out / "findings.json").read_text(encoding="utf-8"))
            a = json.loads((out / "assessment.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}, {}
        return f, a

    def portfolio(s, roles: dict[int, str]) -> list[dict[str, Any]]:
        orgs = []
        for org in s.scalars(select(Org).where(Org.id.in_(list(roles) or [-1])).order_by(Org.name)):
            rows = []
            for p in s.scalars(select(Product).where(Product.org_id == org.id).order_by(Product.name)):
                vs = s.scalars(select(Version).where(Version.product_id == p.id).order_by(Version.id.desc())).all()
                cells, latest = {}, None
                for v in vs:
                    sc = latest_scan(s, v.id, done=True)
                    if sc is not None:
                        latest = (v, sc)
                        break
                targets = p.profile.get("markets") or list(MARKETS)
                summ = load_out(latest[1])[1].get("summary", {}) if latest else {}
                for m in MARKETS:
                    e = summ.get(m)
                    if m not in targets:
                        cells[m] = {"kind": "na"}
                    elif e is None:
                        cells[m] = {"kind": "none"}
                    else:
                        cells[m] = {"kind": "ok" if not e.get("mandatory_not_met") else "gaps", "label": e.get("label"),
                                    "score": e.get("score"), "blockers": e.get("mandatory_not_met") or []}
                rows.append({"product": p, "latest": latest[0] if latest else None, "versions": len(vs), "cells": cells})
            orgs.append({"org": org, "role": roles[org.id], "rows": rows})
        return orgs

    # ------------------------------------------------------------------ sign in / out, language
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request):
        tok = request.cookies.get("fp_precsrf") or auth.secrets.token_urlsafe(24)
        resp = tpl.TemplateResponse(request, "login.html", {"lang": lang_of(request), "csrf": tok, "error": None})
        resp.set_cookie("fp_precsrf", tok, httponly=True, samesite="strict", secure=cfg.secure_cookies)
        return resp

    @app.post("/login")
    async def login(request: Request, s=Depends(db)):
        form = await request.form()
        lang = lang_of(request)
        if not auth.csrf_ok(request.cookies.get("fp_precsrf"), form.get("csrf")):
            raise HTTPException(403, t("err.csrf", lang))
        u = s.scalars(select(User).where(User.email == str(form.get("email", "")).strip().lower())).first()
        if u is None or not auth.verify_password(u.pw_hash, str(form.get("password", ""))):
            return tpl.TemplateResponse(request, "login.html", {"lang": lang, "csrf": form.get("csrf"),
                                                                "error": t("login.failed", lang)}, status_code=401)
        token, _ = auth.new_session(s, u)
        s.commit()
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax", secure=cfg.secure_cookies,
                        max_age=auth.SESSION_DAYS * 86400)
        return resp

    @app.post("/logout")
    async def logout(ctx=Depends(page_ctx)):
        await form_checked(ctx)
        ctx["s"].delete(ctx["session"])
        ctx["s"].commit()
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(auth.SESSION_COOKIE)
        return resp

    @app.get("/lang/{code}")
    def set_lang(code: str, request: Request, next: str = "/"):
        if code not in LANGS:
            raise HTTPException(404)
        dest = next if next.startswith("/") and not next.startswith("//") else "/"
        resp = RedirectResponse(dest, status_code=303)
        resp.set_cookie("fp_lang", code, samesite="lax", secure=cfg.secure_cookies, max_age=365 * 86400)
        return resp

    # ------------------------------------------------------------------ portfolio and products
    @app.get("/", response_class=HTMLResponse)
    def home(ctx=Depends(page_ctx)):
        return render(ctx, "portfolio.html", orgs=portfolio(ctx["s"], ctx["roles"]))

    @app.get("/orgs/{oid}/products/new", response_class=HTMLResponse)
    def new_product(oid: int, ctx=Depends(page_ctx)):
        if oid not in ctx["roles"]:
            raise HTTPException(404)
        need_write(ctx, oid, ctx["lang"])
        return render(ctx, "profile_form.html", sections=forms.sections(None, ctx["lang"]), action=f"/orgs/{oid}/products",
                      errors=[], product=None)

    @app.post("/orgs/{oid}/products")
    async def create_product(oid: int, ctx=Depends(page_ctx)):
        if oid not in ctx["roles"]:
            raise HTTPException(404)
        form = await form_checked(ctx)
        need_write(ctx, oid, ctx["lang"])
        prof, errs = forms.parse(dict(form), None, ctx["lang"])
        if errs:
            return render(ctx, "profile_form.html", 422, sections=forms.sections(prof, ctx["lang"]),
                          action=f"/orgs/{oid}/products", errors=errs, product=None)
        p = Product(org_id=oid, name=prof["product"]["name"], profile=prof)
        ctx["s"].add(p)
        ctx["s"].commit()
        return RedirectResponse(f"/products/{p.id}", status_code=303)

    @app.get("/products/{pid}", response_class=HTMLResponse)
    def product_page(pid: int, ctx=Depends(page_ctx)):
        s = ctx["s"]
        p = _product(s, ctx["roles"], pid)
        vs = s.scalars(select(Version).where(Version.product_id == p.id).order_by(Version.id.desc())).all()
        rows = [{"v": v, "scan": latest_scan(s, v.id)} for v in vs]
        vex = s.scalars(select(VexDecision).where(VexDecision.product_id == p.id).order_by(VexDecision.id.desc())).all()
        fds = s.scalars(select(FindingDecision).where(FindingDecision.product_id == p.id)
                        .order_by(FindingDecision.id.desc())).all()
        labels = {v.id: v.label for v in vs}
        return render(ctx, "product.html", p=p, rows=rows, vex=vex, fds=fds, labels=labels,
                      can_write=ctx["roles"][p.org_id] in CAN_WRITE)

    @app.get("/products/{pid}/profile", response_class=HTMLResponse)
    def edit_profile(pid: int, ctx=Depends(page_ctx)):
        p = _product(ctx["s"], ctx["roles"], pid)
        return render(ctx, "profile_form.html", sections=forms.sections(p.profile, ctx["lang"]),
                      action=f"/products/{pid}/profile", errors=[], product=p)

    @app.post("/products/{pid}/profile")
    async def save_profile(pid: int, ctx=Depends(page_ctx)):
        p = _product(ctx["s"], ctx["roles"], pid)
        form = await form_checked(ctx)
        need_write(ctx, p.org_id, ctx["lang"])
        prof, errs = forms.parse(dict(form), p.profile, ctx["lang"])
        if errs:
            return render(ctx, "profile_form.html", 422, sections=forms.sections(prof, ctx["lang"]),
                          action=f"/products/{pid}/profile", errors=errs, product=p)
        p.profile, p.name = prof, prof["product"]["name"]
        ctx["s"].commit()
        return RedirectResponse(f"/products/{pid}", status_code=303)

    async def store_upload(upload: UploadFile, lang: str) -> tuple[str, int]:
        """Stream the upload to DATA/tmp with a size bound, then keep it as DATA/images/<sha256>."""
        tmp = cfg.data / "tmp" / auth.secrets.token_hex(16)
        h, n = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as fh:
                while chunk := await upload.read(1 << 20):
                    n += len(chunk)
                    if n > cfg.max_upload:
                        raise HTTPException(413, t("err.too_large", lang, limit=f"{cfg.max_upload} bytes"))
                    h.update(chunk)
                    fh.write(chunk)
            digest = h.hexdigest()
            dest = srv.image_path(digest)
            if dest.exists():
                tmp.unlink()
            else:
                os.chmod(tmp, 0o440)  # never executed, never changed
                os.replace(tmp, dest)
            return digest, n
        finally:
            if tmp.exists():
                tmp.unlink()

    async def add_version(s, p: Product, label: str, upload: UploadFile, who: str, lang: str) -> Scan:
        digest, size = await store_upload(upload, lang)
        name = os.path.basename(upload.filename or "image.bin")[:300] or "image.bin"
        v = Version(product_id=p.id, label=(label or name)[:200], filename=name, sha256=digest, size=size,
                    uploaded_by=who, shipped=1)
        s.add(v)
        s.flush()
        sc = Scan(version_id=v.id, status="queued", attempts=0)
        s.add(sc)
        s.flush()
        srv.submit(s, sc)
        return sc

    @app.post("/products/{pid}/versions")
    async def upload_version(pid: int, ctx=Depends(page_ctx)):
        s = ctx["s"]
        p = _product(s, ctx["roles"], pid)
        form = await form_checked(ctx)
        need_write(ctx, p.org_id, ctx["lang"])
        up = form.get("file")
        if not hasattr(up, "read"):
            raise HTTPException(422, t("product.file", ctx["lang"]))
        sc = await add_version(s, p, str(form.get("label") or ""), up, ctx["user"].email, ctx["lang"])
        return RedirectResponse(f"/scans/{sc.id}", status_code=303)

    @app.post("/versions/{vid}/rescan")
    async def rescan(vid: int, ctx=Depends(page_ctx)):
        s = ctx["s"]
        v, p = _version(s, ctx["roles"], vid)
        await form_checked(ctx)
        need_write(ctx, p.org_id, ctx["lang"])
        sc = Scan(version_id=v.id, status="queued", attempts=0)
        s.add(sc)
        s.flush()
        srv.submit(s, sc)
        return RedirectResponse(f"/scans/{sc.id}", status_code=303)

    reassess_lock = threading.Lock()

    def reassess(s, v: Version, p: Product, sc: Scan, who: str) -> None:
        """The saved scan's verdicts, report and evidence again with the product's current profile,
        through the pipeline's one resume path (load_context + run_stages); nothing is rescanned."""
        from firmpass.context import ScanOptions
        from firmpass.pipeline import load_context, run_stages

        d = srv.scan_dir(sc.id)
        (d / "profile.yaml").write_text(yaml.safe_dump(p.profile, allow_unicode=True, sort_keys=False), encoding="utf-8")
        opts = ScanOptions(profile_path=d / "profile.yaml", markets=p.profile.get("markets") or list(MARKETS),
                           pdf=cfg.pdf, progress=False, db_path=cfg.vulns_db)
        with reassess_lock:  # load_context does not lock OUT: two re-assessments of one scan take turns
            run_stages(load_context(d / "out", opts), ["assess", "report", "evidence"])
        s.add(Event(product_id=p.id, kind="reassessed", detail={"version": v.label, "scan": sc.id, "by": who}))
        s.commit()

    @app.post("/versions/{vid}/reassess")
    async def reassess_post(vid: int, ctx=Depends(page_ctx)):
        from starlette.concurrency import run_in_threadpool

        s = ctx["s"]
        v, p = _version(s, ctx["roles"], vid)
        await form_checked(ctx)
        need_write(ctx, p.org_id, ctx["lang"])
        sc = latest_scan(s, v.id, True)
        if sc is None:
            raise HTTPException(409, t("compare.need_scans", ctx["lang"]))
        await run_in_threadpool(reassess, s, v, p, sc, ctx["user"].email)
        return RedirectResponse(f"/versions/{vid}", status_code=303)

    @app.get("/scans/{sid}", response_class=HTMLResponse)
    def scan_page(sid: int, ctx=Depends(page_ctx)):
        sc, v, p = _scan(ctx["s"], ctx["roles"], sid)
        return render(ctx, "scan.html", sc=sc, v=v, p=p)

    def progress_doc(sc: Scan, lang: str) -> dict[str, Any]:
        from firmpass.server.i18n import catalogue
        from firmpass.server.runner import read_progress

        stages = read_progress(srv.scan_dir(sc.id) / "progress.jsonl")
        for st in stages:
            key = f"status.{st['status']}"
            st["label"] = t(key, lang) if key in catalogue() else st["status"]
        return {"id": sc.id, "status": sc.status, "status_label": t(f"status.{sc.status}", lang), "stages": stages,
                "error": sc.error, "summary": sc.summary, "version": sc.version_id}

    @app.get("/scans/{sid}/progress.json")
    def scan_progress(sid: int, ctx=Depends(page_ctx)):
        sc, _, _ = _scan(ctx["s"], ctx["roles"], sid)
        return JSONResponse(progress_doc(sc, ctx["lang"]))

    @app.get("/scans/{sid}/download/{what}")
    def download(sid: int, what: str, ctx=Depends(page_ctx)):
        sc, v, p = _scan(ctx["s"], ctx["roles"], sid)
        return _file(sc, what)

    def _file(sc: Scan, what: str) -> Response:
        rel = DOWNLOADS.get(what)
        if rel is None or sc.status != "done":
            raise HTTPException(404)
        path = srv.scan_dir(sc.id) / "out" / rel
        if not path.is_file():
            raise HTTPException(404)
        # downloaded, never rendered in the server's origin (a report carries image-derived text)
        return FileResponse(path, filename=f"scan{sc.id}-{Path(rel).name}",
                            content_disposition_type="attachment")

    @app.get("/versions/{vid}", response_class=HTMLResponse)
    def version_page(vid: int, ctx=Depends(page_ctx), tab: str = "verdicts", market: str = ""):
        s = ctx["s"]
        v, p = _version(s, ctx["roles"], vid)
        sc = latest_scan(s, v.id, done=True)
        last = latest_scan(s, v.id)
        f, a = load_out(sc)
        vulns = []
        latest_dec = triage.latest(s.scalars(select(VexDecision).where(VexDecision.product_id == p.id)).all())
        for vu in f.get("vulnerabilities", []):
            # decisions are keyed by component name: the same component keeps its decision in the next
            # version even when it is identified another way there (package database vs binary)
            key = vu["component_name"]
            vulns.append({"v": vu, "key": key, "decision": latest_dec.get((vu["id"], key))})
        fdec = {}
        for d in s.scalars(select(FindingDecision).where(FindingDecision.product_id == p.id).order_by(FindingDecision.id)):
            fdec[d.finding] = d
        verdicts = [x for x in a.get("verdicts", []) if not market or market in (x.get("markets") or [])]
        return render(ctx, "version.html", v=v, p=p, sc=sc, last=last, f=f, a=a, tab=tab, market=market, vulns=vulns,
                      verdicts=verdicts, fdec=fdec, can_write=ctx["roles"][p.org_id] in CAN_WRITE)

    def record_vex(s, v: Version, p: Product, form, who: str, lang: str) -> VexDecision:
        status = str(form.get("status") or "")
        just = str(form.get("justification") or "") or None
        vid, comp = str(form.get("vuln_id") or "").strip(), str(form.get("component") or "").strip()
        if status not in VEX_STATES or not vid or not comp or (just and just not in VEX_JUSTIFICATIONS):
            raise HTTPException(422, t("err.bad_value", lang, field="status/justification", detail=status))
        d = VexDecision(product_id=p.id, version_id=v.id, vuln_id=vid[:100], component=comp[:500], status=status,
                        justification=just, note=str(form.get("note") or "")[:4000], who=who)
        s.add(d)
        s.commit()
        return d

    def record_finding(s, v: Version, p: Product, form, who: str, lang: str) -> FindingDecision:
        kind = str(form.get("kind") or "")
        if kind not in FINDING_DECISIONS or not form.get("finding"):
            raise HTTPException(422, t("err.bad_value", lang, field="kind", detail=kind))
        d = FindingDecision(product_id=p.id, version_id=v.id, finding=str(form["finding"])[:200], kind=kind,
                            fixed_in=str(form.get("fixed_in") or "")[:200] or None,
                            reason=str(form.get("reason") or "")[:4000], who=who)
        s.add(d)
        s.commit()
        return d

    @app.post("/versions/{vid}/vex")
    async def vex_post(vid: int, ctx=Depends(page_ctx)):
        v, p = _version(ctx["s"], ctx["roles"], vid)
        form = await form_checked(ctx)
        need_write(ctx, p.org_id, ctx["lang"])
        record_vex(ctx["s"], v, p, form, ctx["user"].email, ctx["lang"])
        return RedirectResponse(f"/versions/{vid}?tab=vulns", status_code=303)

    @app.post("/versions/{vid}/findings")
    async def finding_post(vid: int, ctx=Depends(page_ctx)):
        v, p = _version(ctx["s"], ctx["roles"], vid)
        form = await form_checked(ctx)
        need_write(ctx, p.org_id, ctx["lang"])
        record_finding(ctx["s"], v, p, form, ctx["user"].email, ctx["lang"])
        return RedirectResponse(f"/versions/{vid}?tab=findings", status_code=303)

    def compare_versions(s, roles, pid: int, a: int, b: int) -> tuple[Product, Version, Version, dict | None]:
        from firmpass.compare import compare_dirs

        p = _product(s, roles, pid)
        va, pa = _version(s, roles, a)
        vb, pb = _version(s, roles, b)
        if pa.id != p.id or pb.id != p.id:
            raise HTTPException(404)
        sa, sb = latest_scan(s, va.id, True), latest_scan(s, vb.id, True)
        if sa is None or sb is None:
            return p, va, vb, None
        return p, va, vb, compare_dirs(srv.scan_dir(sa.id) / "out", srv.scan_dir(sb.id) / "out")

    @app.get("/products/{pid}/compare", response_class=HTMLResponse)
    def compare_page(pid: int, a: int, b: int, ctx=Depends(page_ctx)):
        p, va, vb, diff = compare_versions(ctx["s"], ctx["roles"], pid, a, b)
        return render(ctx, "compare.html", p=p, va=va, vb=vb, diff=diff)

    # ------------------------------------------------------------------ post-market
    def watch_product(s, p: Product) -> list[dict[str, Any]]:
        """`firmpass watch` over the newest finished scan of every shipped version; the notifications
        `firmpass watch --notify` would send (firmpass.notify) for a newly exploited vulnerability."""
        from firmpass.notify import exploited_alerts, send
        from firmpass.vulns.store import open_store, resolve_db_path
        from firmpass.watch import load_scan, watch_loaded

        scans, vers = [], []
        for v in s.scalars(select(Version).where(Version.product_id == p.id, Version.shipped == 1)):
            sc = latest_scan(s, v.id, True)
            if sc is not None:
                scans.append(load_scan(srv.scan_dir(sc.id) / "out"))
                vers.append(v)
        if not scans:
            return []
        store = open_store(resolve_db_path(cfg.vulns_db), existing=True)
        if store is None:
            return []
        try:
            docs = watch_loaded(scans, store)
        finally:
            store.close()
        for v, doc in zip(vers, docs):
            s.add(Event(product_id=p.id, kind="watch", detail={"version": v.label, "counts": doc["counts"]}))
        alerts = exploited_alerts(scans, docs)
        if alerts:
            sent = send(alerts, cfg.notify) if cfg.notify else []
            s.add(Event(product_id=p.id, kind="newly_exploited",
                        detail={"vulnerabilities": sorted({a["id"] for a in alerts}),
                                "sent": [{k: r.get(k) for k in ("channel", "ok", "to", "detail")} for r in sent]}))
        s.commit()
        return docs

    def postmarket_rows(s, roles) -> list[dict[str, Any]]:
        rows = []
        for p in s.scalars(select(Product).where(Product.org_id.in_(list(roles) or [-1])).order_by(Product.name)):
            for v in s.scalars(select(Version).where(Version.product_id == p.id).order_by(Version.id.desc())):
                sc = latest_scan(s, v.id, True)
                w = None
                if sc is not None:
                    try:
                        w = json.loads((srv.scan_dir(sc.id) / "out" / "watch.json").read_text(encoding="utf-8"))
                    except (OSError, ValueError):
                        w = None
                rows.append({"p": p, "v": v, "sc": sc, "w": w})
        events = s.scalars(select(Event).where(Event.product_id.in_([r["p"].id for r in rows] or [-1]))
                           .order_by(Event.id.desc()).limit(50)).all()
        return rows, events

    @app.get("/postmarket", response_class=HTMLResponse)
    def postmarket(ctx=Depends(page_ctx)):
        rows, events = postmarket_rows(ctx["s"], ctx["roles"])
        names = {r["p"].id: r["p"].name for r in rows}
        return render(ctx, "postmarket.html", rows=rows, events=events, names=names)

    @app.post("/products/{pid}/watch")
    async def watch_post(pid: int, ctx=Depends(page_ctx)):
        p = _product(ctx["s"], ctx["roles"], pid)
        await form_checked(ctx)
        need_write(ctx, p.org_id, ctx["lang"])
        watch_product(ctx["s"], p)
        return RedirectResponse("/postmarket", status_code=303)

    @app.get("/scans/{sid}/draft/{path:path}")
    def draft(sid: int, path: str, ctx=Depends(page_ctx)):
        sc, _, _ = _scan(ctx["s"], ctx["roles"], sid)
        base = (srv.scan_dir(sc.id) / "out").resolve()
        target = (base / path).resolve()
        if not (target.is_relative_to(base / "art14") or target.is_relative_to(base / "advisories")) or not target.is_file():
            raise HTTPException(404)
        return FileResponse(target, filename=target.name, content_disposition_type="attachment")

    # ------------------------------------------------------------------ organisation members (admin)
    def _org_admin(ctx, oid: int) -> Org:
        if oid not in ctx["roles"]:
            raise HTTPException(404)
        if ctx["roles"][oid] != "admin":
            raise HTTPException(403, t("err.forbidden", ctx["lang"]))
        return ctx["s"].get(Org, oid)

    def members_page(ctx, org: Org, error: str | None = None, status: int = 200):
        rows = ctx["s"].execute(select(User, Member).join(Member, Member.user_id == User.id)
                                .where(Member.org_id == org.id).order_by(User.email)).all()
        return render(ctx, "members.html", status, org=org, members=rows, error=error)

    @app.get("/orgs/{oid}/members", response_class=HTMLResponse)
    def members(oid: int, ctx=Depends(page_ctx)):
        return members_page(ctx, _org_admin(ctx, oid))

    @app.post("/orgs/{oid}/members", response_class=HTMLResponse)
    async def add_member(oid: int, ctx=Depends(page_ctx)):
        form = await form_checked(ctx)
        org = _org_admin(ctx, oid)
        s = ctx["s"]
        email, role, pw = str(form.get("email") or "").strip().lower(), str(form.get("role") or ""), str(form.get("password") or "")
        if role not in ROLES or "@" not in email:
            raise HTTPException(422, t("err.bad_value", ctx["lang"], field="email/role", detail=role))
        u = s.scalars(select(User).where(User.email == email)).first()
        if u is None:
            if len(pw) < 12:
                return members_page(ctx, org, t("err.password_short", ctx["lang"]), 422)
            u = User(email=email, name=email, pw_hash=auth.hash_password(pw))
            s.add(u)
            s.flush()
        m = s.get(Member, (u.id, org.id))
        if m is None:
            s.add(Member(user_id=u.id, org_id=org.id, role=role))
        else:
            m.role = role
        s.commit()
        return RedirectResponse(f"/orgs/{oid}/members", status_code=303)

    # ------------------------------------------------------------------ account
    @app.get("/account", response_class=HTMLResponse)
    def account(ctx=Depends(page_ctx)):
        from firmpass.server.db import ApiToken

        toks = ctx["s"].scalars(select(ApiToken).where(ApiToken.user_id == ctx["user"].id)).all()
        return render(ctx, "account.html", tokens=toks, new_token=None)

    @app.post("/account/tokens", response_class=HTMLResponse)
    async def new_token(ctx=Depends(page_ctx)):
        from firmpass.server.db import ApiToken

        form = await form_checked(ctx)
        tok = auth.new_api_token(ctx["s"], ctx["user"], str(form.get("name") or "token"))
        ctx["s"].commit()
        toks = ctx["s"].scalars(select(ApiToken).where(ApiToken.user_id == ctx["user"].id)).all()
        return render(ctx, "account.html", tokens=toks, new_token=tok)

    # ------------------------------------------------------------------ REST API
    api = APIRouter(prefix="/api/v1")

    def api_ctx(request: Request, s=Depends(db)) -> dict[str, Any]:
        u = auth.user_for_token(s, request.headers.get("authorization"))
        if u is None:
            raise HTTPException(401, "a bearer token is required / 需要 Bearer 令牌",
                                headers={"WWW-Authenticate": "Bearer"})
        s.commit()
        roles = {m.org_id: m.role for m in s.scalars(select(Member).where(Member.user_id == u.id))}
        return {"s": s, "user": u, "roles": roles, "lang": "en"}

    def product_json(p: Product) -> dict[str, Any]:
        return {"id": p.id, "org": p.org_id, "name": p.name, "profile": p.profile, "created": p.created}

    def version_json(s, v: Version) -> dict[str, Any]:
        sc = latest_scan(s, v.id)
        return {"id": v.id, "product": v.product_id, "label": v.label, "filename": v.filename, "sha256": v.sha256,
                "size": v.size, "created": v.created, "latest_scan": sc.id if sc else None,
                "scan_status": sc.status if sc else None}

    @api.get("/portfolio")
    def api_portfolio(ctx=Depends(api_ctx)):
        out = []
        for o in portfolio(ctx["s"], ctx["roles"]):
            out.append({"org": {"id": o["org"].id, "name": o["org"].name}, "role": o["role"], "products": [
                {"id": r["product"].id, "name": r["product"].name, "latest_version": r["latest"].label if r["latest"] else None,
                 "markets": {m: {"status": c["kind"], "score": c.get("score"), "blockers": c.get("blockers", [])}
                             for m, c in r["cells"].items()}} for r in o["rows"]]})
        return out

    @api.get("/products")
    def api_products(ctx=Depends(api_ctx)):
        ps = ctx["s"].scalars(select(Product).where(Product.org_id.in_(list(ctx["roles"]) or [-1]))).all()
        return [product_json(p) for p in ps]

    @api.post("/products", status_code=201)
    async def api_create_product(request: Request, ctx=Depends(api_ctx)):
        from firmpass.profile import validate

        body = await request.json()
        org = body.get("org")
        if org not in ctx["roles"]:
            raise HTTPException(404)
        need_write(ctx["roles"][org])
        prof = body.get("profile") or {}
        errs = validate(prof)
        if errs:
            raise HTTPException(422, errs)
        p = Product(org_id=org, name=prof["product"]["name"], profile=prof)
        ctx["s"].add(p)
        ctx["s"].commit()
        return product_json(p)

    @api.get("/products/{pid}")
    def api_product(pid: int, ctx=Depends(api_ctx)):
        return product_json(_product(ctx["s"], ctx["roles"], pid))

    @api.get("/products/{pid}/versions")
    def api_versions(pid: int, ctx=Depends(api_ctx)):
        p = _product(ctx["s"], ctx["roles"], pid)
        return [version_json(ctx["s"], v) for v in ctx["s"].scalars(select(Version).where(Version.product_id == p.id))]

    @api.post("/products/{pid}/versions", status_code=201)
    async def api_upload(pid: int, file: UploadFile, label: str = "", ctx=Depends(api_ctx)):
        p = _product(ctx["s"], ctx["roles"], pid)
        need_write(ctx["roles"][p.org_id])
        sc = await add_version(ctx["s"], p, label, file, ctx["user"].email, "en")
        return {"version": sc.version_id, "scan": sc.id}

    @api.get("/scans/{sid}")
    def api_scan(sid: int, ctx=Depends(api_ctx)):
        sc, _, _ = _scan(ctx["s"], ctx["roles"], sid)
        return progress_doc(sc, "en")

    @api.get("/scans/{sid}/results")
    def api_results(sid: int, ctx=Depends(api_ctx)):
        sc, _, _ = _scan(ctx["s"], ctx["roles"], sid)
        f, a = load_out(sc)
        if not f:
            raise HTTPException(409, f"scan is {sc.status}")
        return {"scan": sc.id, "image": f.get("image", {}).get("sha256"), "summary": a.get("summary"),
                "vulnerabilities": [{"id": v["id"], "component": v["component_name"], "version": v.get("component_version"),
                                     "severity": v.get("severity"), "vex": v.get("vex")} for v in f.get("vulnerabilities", [])],
                "findings": [{"id": x["id"], "check": x["check"], "severity": x["severity"], "title": x["title"]}
                             for x in f.get("findings", [])],
                "components": [{"name": c["name"], "version": c.get("version"), "purl": c.get("purl")}
                               for c in f.get("components", [])]}

    @api.get("/scans/{sid}/download/{what}")
    def api_download(sid: int, what: str, ctx=Depends(api_ctx)):
        sc, _, _ = _scan(ctx["s"], ctx["roles"], sid)
        return _file(sc, what)

    @api.get("/versions/{vid}/decisions")
    def api_decisions(vid: int, ctx=Depends(api_ctx)):
        v, p = _version(ctx["s"], ctx["roles"], vid)
        s = ctx["s"]
        return {"vex": [{c: getattr(d, c) for c in ("id", "version_id", "vuln_id", "component", "status", "justification",
                                                     "note", "who", "at")}
                        for d in s.scalars(select(VexDecision).where(VexDecision.product_id == p.id))],
                "findings": [{c: getattr(d, c) for c in ("id", "version_id", "finding", "kind", "fixed_in", "reason", "who", "at")}
                             for d in s.scalars(select(FindingDecision).where(FindingDecision.product_id == p.id))]}

    @api.post("/versions/{vid}/decisions", status_code=201)
    async def api_decide(vid: int, request: Request, ctx=Depends(api_ctx)):
        v, p = _version(ctx["s"], ctx["roles"], vid)
        need_write(ctx["roles"][p.org_id])
        body = await request.json()
        if body.get("type") == "finding":
            d = record_finding(ctx["s"], v, p, body, ctx["user"].email, "en")
        else:
            d = record_vex(ctx["s"], v, p, body, ctx["user"].email, "en")
        return {"id": d.id, "at": d.at}

    @api.get("/products/{pid}/compare")
    def api_compare(pid: int, a: int, b: int, ctx=Depends(api_ctx)):
        _, _, _, diff = compare_versions(ctx["s"], ctx["roles"], pid, a, b)
        if diff is None:
            raise HTTPException(409, "both versions need a finished scan")
        return diff

    app.include_router(api)
    for route in app.routes:  # the OpenAPI document describes the REST API, not the pages
        if hasattr(route, "include_in_schema") and not getattr(route, "path", "").startswith("/api/"):
            route.include_in_schema = False
    return app


__all__ = ["Settings", "create_app", "ROLES"]
