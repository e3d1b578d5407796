"""What the team server's routes share (firmpass.server.pages and firmpass.server.api): the request's
database session and sign-in context, rendering, access checks, and the operations pages and the REST API
both perform (store an upload, record a decision, compare versions, re-assess, watch)."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import yaml
from fastapi import HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select

from firmpass.server import auth
from firmpass.server.db import (FINDING_DECISIONS, VEX_JUSTIFICATIONS, VEX_STATES, Event, FindingDecision, Member, Org,
                                Product, Scan, User, Version, VexDecision)
from firmpass.server.i18n import LANGS, t

MARKETS = ("eu", "uk", "us", "cn")
DOWNLOADS = {"report": "report.html", "report_pdf": "report.pdf", "evidence": "evidence.zip",
             "findings": "findings.json", "csaf": "evidence/vex.csaf.json", "sbom": "sbom.cdx.json"}
CAN_WRITE = ("admin", "analyst")


class LoginRequired(Exception):
    pass


class Web:
    """The helpers every route module uses; `srv` is the app's Server, `tpl` its Jinja2 templates."""

    def __init__(self, srv, tpl):
        self.srv, self.cfg, self.tpl = srv, srv.cfg, tpl
        self.reassess_lock = threading.Lock()

    def db(self):
        """A database session for one request (a FastAPI dependency)."""
        with self.srv.Session() as s:
            yield s

    def lang_of(self, request: Request) -> str:
        lang = request.cookies.get("fp_lang")
        if lang in LANGS:
            return lang
        return "zh" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"

    def page_ctx(self, request: Request):
        """The signed-in user's context for a page, with the request's session (LoginRequired sends to /login)."""
        for s in self.db():
            yield self._page_ctx(request, s)

    def _page_ctx(self, request: Request, s) -> dict[str, Any]:
        ws = auth.session_for(s, request.cookies.get(auth.SESSION_COOKIE))
        if ws is None:
            raise LoginRequired()
        user = s.get(User, ws.user_id)
        roles = {m.org_id: m.role for m in s.scalars(select(Member).where(Member.user_id == user.id))}
        return {"request": request, "s": s, "user": user, "session": ws, "roles": roles, "lang": self.lang_of(request),
                "csrf": ws.csrf}

    def render(self, ctx: dict[str, Any], name: str, status: int = 200, **kw) -> HTMLResponse:
        data = {k: v for k, v in ctx.items() if k != "s"}
        data.update(kw)
        return self.tpl.TemplateResponse(ctx["request"], name, data, status_code=status)

    async def form_checked(self, ctx: dict[str, Any]) -> dict[str, Any]:
        form = await ctx["request"].form()
        if not auth.csrf_ok(ctx["csrf"], form.get("csrf")):
            raise HTTPException(403, t("err.csrf", ctx["lang"]))
        return form

    def need_write(self, ctx_or_role, org_id: int | None = None, lang: str = "en") -> None:
        role = ctx_or_role if isinstance(ctx_or_role, str) else ctx_or_role["roles"].get(org_id)
        if role not in CAN_WRITE:
            raise HTTPException(403, t("err.forbidden", lang))

    def get_product(self, s, roles: dict[int, str], pid: int) -> Product:
        p = s.get(Product, pid)
        if p is None or p.org_id not in roles:
            raise HTTPException(404, "not found / 未找到")
        return p

    def get_version(self, s, roles, vid: int) -> tuple[Version, Product]:
        v = s.get(Version, vid)
        if v is None:
            raise HTTPException(404, "not found / 未找到")
        return v, self.get_product(s, roles, v.product_id)

    async def version_to_change(self, ctx: dict[str, Any], vid: int) -> tuple[Version, Product]:
        """A version a form posts to: it exists and is visible, the form's CSRF token holds and the
        user may write in its organisation."""
        v, p = self.get_version(ctx["s"], ctx["roles"], vid)
        await self.form_checked(ctx)
        self.need_write(ctx, p.org_id, ctx["lang"])
        return v, p

    def get_scan(self, s, roles, sid: int) -> tuple[Scan, Version, Product]:
        sc = s.get(Scan, sid)
        if sc is None:
            raise HTTPException(404, "not found / 未找到")
        v, p = self.get_version(s, roles, sc.version_id)
        return sc, v, p

    def latest_scan(self, s, vid: int, done: bool = False) -> Scan | None:
        q = select(Scan).where(Scan.version_id == vid)
        if done:
            q = q.where(Scan.status == "done")
        return s.scalars(q.order_by(Scan.id.desc()).limit(1)).first()

    def load_out(self, sc: Scan | None) -> tuple[dict, dict]:
        if sc is None or sc.status != "done":
            return {}, {}
        out = self.srv.scan_dir(sc.id) / "out"
        try:
            f = json.loads((out / "findings.json").read_text(encoding="utf-8"))
            a = json.loads((out / "assessment.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}, {}
        return f, a

    def portfolio(self, s, roles: dict[int, str]) -> list[dict[str, Any]]:
        orgs = []
        for org in s.scalars(select(Org).where(Org.id.in_(list(roles) or [-1])).order_by(Org.name)):
            rows = []
            for p in s.scalars(select(Product).where(Product.org_id == org.id).order_by(Product.name)):
                vs = s.scalars(select(Version).where(Version.product_id == p.id).order_by(Version.id.desc())).all()
                cells, latest = {}, None
                for v in vs:
                    sc = self.latest_scan(s, v.id, done=True)
                    if sc is not None:
                        latest = (v, sc)
                        break
                targets = p.profile.get("markets") or list(MARKETS)
                summ = self.load_out(latest[1])[1].get("summary", {}) if latest else {}
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

    async def store_upload(self, upload: UploadFile, lang: str) -> tuple[str, int]:
        """Stream the upload to DATA/tmp with a size bound, then keep it as DATA/images/<sha256>."""
        tmp = self.cfg.data / "tmp" / auth.secrets.token_hex(16)
        h, n = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as fh:
                while chunk := await upload.read(1 << 20):
                    n += len(chunk)
                    if n > self.cfg.max_upload:
                        raise HTTPException(413, t("err.too_large", lang, limit=f"{self.cfg.max_upload} bytes"))
                    h.update(chunk)
                    fh.write(chunk)
            digest = h.hexdigest()
            dest = self.srv.image_path(digest)
            if dest.exists():
                tmp.unlink()
            else:
                os.chmod(tmp, 0o440)  # never executed, never changed
                os.replace(tmp, dest)
            return digest, n
        finally:
            if tmp.exists():
                tmp.unlink()

    async def add_version(self, s, p: Product, label: str, upload: UploadFile, who: str, lang: str) -> Scan:
        digest, size = await self.store_upload(upload, lang)
        name = os.path.basename(upload.filename or "image.bin")[:300] or "image.bin"
        v = Version(product_id=p.id, label=(label or name)[:200], filename=name, sha256=digest, size=size,
                    uploaded_by=who, shipped=1)
        s.add(v)
        s.flush()
        sc = Scan(version_id=v.id, status="queued", attempts=0)
        s.add(sc)
        s.flush()
        self.srv.submit(s, sc)
        return sc

    def reassess(self, s, v: Version, p: Product, sc: Scan, who: str) -> None:
        """The saved scan's verdicts, report and evidence again with the product's current profile,
        through the pipeline's one resume path (load_context + run_stages); nothing is rescanned."""
        from firmpass.context import ScanOptions
        from firmpass.pipeline import load_context, run_stages

        d = self.srv.scan_dir(sc.id)
        (d / "profile.yaml").write_text(yaml.safe_dump(p.profile, allow_unicode=True, sort_keys=False), encoding="utf-8")
        opts = ScanOptions(profile_path=d / "profile.yaml", markets=p.profile.get("markets") or list(MARKETS),
                           pdf=self.cfg.pdf, progress=False, db_path=self.cfg.vulns_db)
        with self.reassess_lock:  # load_context does not lock OUT: two re-assessments of one scan take turns
            run_stages(load_context(d / "out", opts), ["assess", "report", "evidence"])
        s.add(Event(product_id=p.id, kind="reassessed", detail={"version": v.label, "scan": sc.id, "by": who}))
        s.commit()

    def progress_doc(self, sc: Scan, lang: str) -> dict[str, Any]:
        from firmpass.server.i18n import catalogue
        from firmpass.server.runner import read_progress

        stages = read_progress(self.srv.scan_dir(sc.id) / "progress.jsonl")
        for st in stages:
            key = f"status.{st['status']}"
            st["label"] = t(key, lang) if key in catalogue() else st["status"]
        return {"id": sc.id, "status": sc.status, "status_label": t(f"status.{sc.status}", lang), "stages": stages,
                "error": sc.error, "summary": sc.summary, "version": sc.version_id}

    def file_response(self, sc: Scan, what: str) -> Response:
        rel = DOWNLOADS.get(what)
        if rel is None or sc.status != "done":
            raise HTTPException(404)
        path = self.srv.scan_dir(sc.id) / "out" / rel
        if not path.is_file():
            raise HTTPException(404)
        # downloaded, never rendered in the server's origin (a report carries image-derived text)
        return FileResponse(path, filename=f"scan{sc.id}-{Path(rel).name}",
                            content_disposition_type="attachment")

    def record_vex(self, s, v: Version, p: Product, form, who: str, lang: str) -> VexDecision:
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

    def record_finding(self, s, v: Version, p: Product, form, who: str, lang: str) -> FindingDecision:
        kind = str(form.get("kind") or "")
        if kind not in FINDING_DECISIONS or not form.get("finding"):
            raise HTTPException(422, t("err.bad_value", lang, field="kind", detail=kind))
        d = FindingDecision(product_id=p.id, version_id=v.id, finding=str(form["finding"])[:200], kind=kind,
                            fixed_in=str(form.get("fixed_in") or "")[:200] or None,
                            reason=str(form.get("reason") or "")[:4000], who=who)
        s.add(d)
        s.commit()
        return d

    def compare_versions(self, s, roles, pid: int, a: int, b: int) -> tuple[Product, Version, Version, dict | None]:
        from firmpass.compare import compare_dirs

        p = self.get_product(s, roles, pid)
        va, pa = self.get_version(s, roles, a)
        vb, pb = self.get_version(s, roles, b)
        if pa.id != p.id or pb.id != p.id:
            raise HTTPException(404)
        sa, sb = self.latest_scan(s, va.id, True), self.latest_scan(s, vb.id, True)
        if sa is None or sb is None:
            return p, va, vb, None
        return p, va, vb, compare_dirs(self.srv.scan_dir(sa.id) / "out", self.srv.scan_dir(sb.id) / "out")

    def watch_product(self, s, p: Product) -> list[dict[str, Any]]:
        """`firmpass watch` over the newest finished scan of every shipped version; the notifications
        `firmpass watch --notify` would send (firmpass.notify) for a newly exploited vulnerability."""
        from firmpass.notify import exploited_alerts, send
        from firmpass.vulns.store import open_store, resolve_db_path
        from firmpass.watch import load_scan, watch_loaded

        scans, vers = [], []
        for v in s.scalars(select(Version).where(Version.product_id == p.id, Version.shipped == 1)):
            sc = self.latest_scan(s, v.id, True)
            if sc is not None:
                scans.append(load_scan(self.srv.scan_dir(sc.id) / "out"))
                vers.append(v)
        if not scans:
            return []
        store = open_store(resolve_db_path(self.cfg.vulns_db), existing=True)
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
            sent = send(alerts, self.cfg.notify) if self.cfg.notify else []
            s.add(Event(product_id=p.id, kind="newly_exploited",
                        detail={"vulnerabilities": sorted({a["id"] for a in alerts}),
                                "sent": [{k: r.get(k) for k in ("channel", "ok", "to", "detail")} for r in sent]}))
        s.commit()
        return docs

    def postmarket_rows(self, s, roles) -> list[dict[str, Any]]:
        rows = []
        for p in s.scalars(select(Product).where(Product.org_id.in_(list(roles) or [-1])).order_by(Product.name)):
            for v in s.scalars(select(Version).where(Version.product_id == p.id).order_by(Version.id.desc())):
                sc = self.latest_scan(s, v.id, True)
                w = None
                if sc is not None:
                    try:
                        w = json.loads((self.srv.scan_dir(sc.id) / "out" / "watch.json").read_text(encoding="utf-8"))
                    except (OSError, ValueError):
                        w = None
                rows.append({"p": p, "v": v, "sc": sc, "w": w})
        events = s.scalars(select(Event).where(Event.product_id.in_([r["p"].id for r in rows] or [-1]))
                           .order_by(Event.id.desc()).limit(50)).all()
        return rows, events

    def org_admin(self, ctx, oid: int) -> Org:
        if oid not in ctx["roles"]:
            raise HTTPException(404)
        if ctx["roles"][oid] != "admin":
            raise HTTPException(403, t("err.forbidden", ctx["lang"]))
        return ctx["s"].get(Org, oid)

    def members_page(self, ctx, org: Org, error: str | None = None, status: int = 200):
        rows = ctx["s"].execute(select(User, Member).join(Member, Member.user_id == User.id)
                                .where(Member.org_id == org.id).order_by(User.email)).all()
        return self.render(ctx, "members.html", status, org=org, members=rows, error=error)

    def api_ctx(self, request: Request):
        """The API caller's context (a bearer token), with the request's session."""
        for s in self.db():
            yield self._api_ctx(request, s)

    def _api_ctx(self, request: Request, s) -> dict[str, Any]:
        u = auth.user_for_token(s, request.headers.get("authorization"))
        if u is None:
            raise HTTPException(401, "a bearer token is required / 需要 Bearer 令牌",
                                headers={"WWW-Authenticate": "Bearer"})
        s.commit()
        roles = {m.org_id: m.role for m in s.scalars(select(Member).where(Member.user_id == u.id))}
        return {"s": s, "user": u, "roles": roles, "lang": "en"}

    def product_json(self, p: Product) -> dict[str, Any]:
        return {"id": p.id, "org": p.org_id, "name": p.name, "profile": p.profile, "created": p.created}

    def version_json(self, s, v: Version) -> dict[str, Any]:
        sc = self.latest_scan(s, v.id)
        return {"id": v.id, "product": v.product_id, "label": v.label, "filename": v.filename, "sha256": v.sha256,
                "size": v.size, "created": v.created, "latest_scan": sc.id if sc else None,
                "scan_status": sc.status if sc else None}
