"""The team server's HTML pages, one router per area (the REST API is firmpass.server.api)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from firmpass.server import auth, forms, triage
from firmpass.server.db import ROLES, FindingDecision, Product, Scan, User, Version, VexDecision
from firmpass.server.i18n import LANGS, t
from firmpass.server.web import CAN_WRITE, Web


def auth_router(w: Web) -> APIRouter:
    """Sign in / out, language."""
    r = APIRouter()

    @r.get("/login", response_class=HTMLResponse)
    def login_page(request: Request):
        tok = request.cookies.get("fp_precsrf") or auth.secrets.token_urlsafe(24)
        resp = w.tpl.TemplateResponse(request, "login.html", {"lang": w.lang_of(request), "csrf": tok, "error": None})
        resp.set_cookie("fp_precsrf", tok, httponly=True, samesite="strict", secure=w.cfg.secure_cookies)
        return resp

    @r.post("/login")
    async def login(request: Request, s=Depends(w.db)):
        form = await request.form()
        lang = w.lang_of(request)
        if not auth.csrf_ok(request.cookies.get("fp_precsrf"), form.get("csrf")):
            raise HTTPException(403, t("err.csrf", lang))
        u = s.scalars(select(User).where(User.email == str(form.get("email", "")).strip().lower())).first()
        if u is None or not auth.verify_password(u.pw_hash, str(form.get("password", ""))):
            return w.tpl.TemplateResponse(request, "login.html", {"lang": lang, "csrf": form.get("csrf"),
                                                                "error": t("login.failed", lang)}, status_code=401)
        token, _ = auth.new_session(s, u)
        s.commit()
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax", secure=w.cfg.secure_cookies,
                        max_age=auth.SESSION_DAYS * 86400)
        return resp

    @r.post("/logout")
    async def logout(ctx=Depends(w.page_ctx)):
        await w.form_checked(ctx)
        ctx["s"].delete(ctx["session"])
        ctx["s"].commit()
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(auth.SESSION_COOKIE)
        return resp

    @r.get("/lang/{code}")
    def set_lang(code: str, request: Request, next: str = "/"):
        if code not in LANGS:
            raise HTTPException(404)
        dest = next if next.startswith("/") and not next.startswith("//") else "/"
        resp = RedirectResponse(dest, status_code=303)
        resp.set_cookie("fp_lang", code, samesite="lax", secure=w.cfg.secure_cookies, max_age=365 * 86400)
        return resp

    return r


def product_router(w: Web) -> APIRouter:
    """Portfolio, a product's page and the comparison of two of its versions."""
    r = APIRouter()

    @r.get("/", response_class=HTMLResponse)
    def home(ctx=Depends(w.page_ctx)):
        return w.render(ctx, "portfolio.html", orgs=w.portfolio(ctx["s"], ctx["roles"]))

    @r.get("/products/{pid}", response_class=HTMLResponse)
    def product_page(pid: int, ctx=Depends(w.page_ctx)):
        s = ctx["s"]
        p = w.get_product(s, ctx["roles"], pid)
        vs = s.scalars(select(Version).where(Version.product_id == p.id).order_by(Version.id.desc())).all()
        rows = [{"v": v, "scan": w.latest_scan(s, v.id)} for v in vs]
        vex = s.scalars(select(VexDecision).where(VexDecision.product_id == p.id).order_by(VexDecision.id.desc())).all()
        fds = s.scalars(select(FindingDecision).where(FindingDecision.product_id == p.id)
                        .order_by(FindingDecision.id.desc())).all()
        labels = {v.id: v.label for v in vs}
        return w.render(ctx, "product.html", p=p, rows=rows, vex=vex, fds=fds, labels=labels,
                      can_write=ctx["roles"][p.org_id] in CAN_WRITE)

    @r.get("/products/{pid}/compare", response_class=HTMLResponse)
    def compare_page(pid: int, a: int, b: int, ctx=Depends(w.page_ctx)):
        p, va, vb, diff = w.compare_versions(ctx["s"], ctx["roles"], pid, a, b)
        return w.render(ctx, "compare.html", p=p, va=va, vb=vb, diff=diff)

    return r


def profile_router(w: Web) -> APIRouter:
    """A new product and the edit of a product's profile (the same form)."""
    r = APIRouter()

    @r.get("/orgs/{oid}/products/new", response_class=HTMLResponse)
    def new_product(oid: int, ctx=Depends(w.page_ctx)):
        if oid not in ctx["roles"]:
            raise HTTPException(404)
        w.need_write(ctx, oid, ctx["lang"])
        return w.render(ctx, "profile_form.html", sections=forms.sections(None, ctx["lang"]), action=f"/orgs/{oid}/products",
                      errors=[], product=None)

    @r.post("/orgs/{oid}/products")
    async def create_product(oid: int, ctx=Depends(w.page_ctx)):
        if oid not in ctx["roles"]:
            raise HTTPException(404)
        form = await w.form_checked(ctx)
        w.need_write(ctx, oid, ctx["lang"])
        prof, errs = forms.parse(dict(form), None, ctx["lang"])
        if errs:
            return w.render(ctx, "profile_form.html", 422, sections=forms.sections(prof, ctx["lang"]),
                          action=f"/orgs/{oid}/products", errors=errs, product=None)
        p = Product(org_id=oid, name=prof["product"]["name"], profile=prof)
        ctx["s"].add(p)
        ctx["s"].commit()
        return RedirectResponse(f"/products/{p.id}", status_code=303)

    @r.get("/products/{pid}/profile", response_class=HTMLResponse)
    def edit_profile(pid: int, ctx=Depends(w.page_ctx)):
        p = w.get_product(ctx["s"], ctx["roles"], pid)
        return w.render(ctx, "profile_form.html", sections=forms.sections(p.profile, ctx["lang"]),
                      action=f"/products/{pid}/profile", errors=[], product=p)

    @r.post("/products/{pid}/profile")
    async def save_profile(pid: int, ctx=Depends(w.page_ctx)):
        p = w.get_product(ctx["s"], ctx["roles"], pid)
        form = await w.form_checked(ctx)
        w.need_write(ctx, p.org_id, ctx["lang"])
        prof, errs = forms.parse(dict(form), p.profile, ctx["lang"])
        if errs:
            return w.render(ctx, "profile_form.html", 422, sections=forms.sections(prof, ctx["lang"]),
                          action=f"/products/{pid}/profile", errors=errs, product=p)
        p.profile, p.name = prof, prof["product"]["name"]
        ctx["s"].commit()
        return RedirectResponse(f"/products/{pid}", status_code=303)

    return r


def version_router(w: Web) -> APIRouter:
    """Versions: upload, rescan, re-assess."""
    r = APIRouter()

    @r.post("/products/{pid}/versions")
    async def upload_version(pid: int, ctx=Depends(w.page_ctx)):
        s = ctx["s"]
        p = w.get_product(s, ctx["roles"], pid)
        form = await w.form_checked(ctx)
        w.need_write(ctx, p.org_id, ctx["lang"])
        up = form.get("file")
        if not hasattr(up, "read"):
            raise HTTPException(422, t("product.file", ctx["lang"]))
        sc = await w.add_version(s, p, str(form.get("label") or ""), up, ctx["user"].email, ctx["lang"])
        return RedirectResponse(f"/scans/{sc.id}", status_code=303)

    @r.post("/versions/{vid}/rescan")
    async def rescan(vid: int, ctx=Depends(w.page_ctx)):
        s = ctx["s"]
        v, _ = await w.version_to_change(ctx, vid)
        sc = Scan(version_id=v.id, status="queued", attempts=0)
        s.add(sc)
        s.flush()
        w.srv.submit(s, sc)
        return RedirectResponse(f"/scans/{sc.id}", status_code=303)

    @r.post("/versions/{vid}/reassess")
    async def reassess_post(vid: int, ctx=Depends(w.page_ctx)):
        from starlette.concurrency import run_in_threadpool

        s = ctx["s"]
        v, p = await w.version_to_change(ctx, vid)
        sc = w.latest_scan(s, v.id, True)
        if sc is None:
            raise HTTPException(409, t("compare.need_scans", ctx["lang"]))
        await run_in_threadpool(w.reassess, s, v, p, sc, ctx["user"].email)
        return RedirectResponse(f"/versions/{vid}", status_code=303)

    return r


def _vuln_rows(s: Session, p: Product, f: dict[str, Any]) -> list[dict[str, Any]]:
    """The scan's vulnerabilities, each with the product's latest VEX decision on it."""
    latest_dec = triage.latest(s.scalars(select(VexDecision).where(VexDecision.product_id == p.id)).all())
    rows = []
    for vu in f.get("vulnerabilities", []):
        # decisions are keyed by component name: the same component keeps its decision in the next
        # version even when it is identified another way there (package database vs binary)
        key = vu["component_name"]
        rows.append({"v": vu, "key": key, "decision": latest_dec.get((vu["id"], key))})
    return rows


def _finding_decisions(s: Session, p: Product) -> dict[str, FindingDecision]:
    """The product's latest decision per finding id (later rows win)."""
    fdec = {}
    for d in s.scalars(select(FindingDecision).where(FindingDecision.product_id == p.id).order_by(FindingDecision.id)):
        fdec[d.finding] = d
    return fdec


def triage_router(w: Web) -> APIRouter:
    """A version's page and the VEX and finding decisions taken on it."""
    r = APIRouter()

    @r.get("/versions/{vid}", response_class=HTMLResponse)
    def version_page(vid: int, ctx=Depends(w.page_ctx), tab: str = "verdicts", market: str = ""):
        s = ctx["s"]
        v, p = w.get_version(s, ctx["roles"], vid)
        sc = w.latest_scan(s, v.id, done=True)
        last = w.latest_scan(s, v.id)
        f, a = w.load_out(sc)
        verdicts = [x for x in a.get("verdicts", []) if not market or market in (x.get("markets") or [])]
        return w.render(ctx, "version.html", v=v, p=p, sc=sc, last=last, f=f, a=a, tab=tab, market=market,
                        vulns=_vuln_rows(s, p, f), verdicts=verdicts, fdec=_finding_decisions(s, p),
                        can_write=ctx["roles"][p.org_id] in CAN_WRITE)

    @r.post("/versions/{vid}/vex")
    async def vex_post(vid: int, ctx=Depends(w.page_ctx)):
        v, p = w.get_version(ctx["s"], ctx["roles"], vid)
        form = await w.form_checked(ctx)
        w.need_write(ctx, p.org_id, ctx["lang"])
        w.record_vex(ctx["s"], v, p, form, ctx["user"].email, ctx["lang"])
        return RedirectResponse(f"/versions/{vid}?tab=vulns", status_code=303)

    @r.post("/versions/{vid}/findings")
    async def finding_post(vid: int, ctx=Depends(w.page_ctx)):
        v, p = w.get_version(ctx["s"], ctx["roles"], vid)
        form = await w.form_checked(ctx)
        w.need_write(ctx, p.org_id, ctx["lang"])
        w.record_finding(ctx["s"], v, p, form, ctx["user"].email, ctx["lang"])
        return RedirectResponse(f"/versions/{vid}?tab=findings", status_code=303)

    return r


def scan_router(w: Web) -> APIRouter:
    """Scans: progress and downloads."""
    r = APIRouter()

    @r.get("/scans/{sid}", response_class=HTMLResponse)
    def scan_page(sid: int, ctx=Depends(w.page_ctx)):
        sc, v, p = w.get_scan(ctx["s"], ctx["roles"], sid)
        return w.render(ctx, "scan.html", sc=sc, v=v, p=p)

    @r.get("/scans/{sid}/progress.json")
    def scan_progress(sid: int, ctx=Depends(w.page_ctx)):
        sc, _, _ = w.get_scan(ctx["s"], ctx["roles"], sid)
        return JSONResponse(w.progress_doc(sc, ctx["lang"]))

    @r.get("/scans/{sid}/download/{what}")
    def download(sid: int, what: str, ctx=Depends(w.page_ctx)):
        sc, v, p = w.get_scan(ctx["s"], ctx["roles"], sid)
        return w.file_response(sc, what)

    @r.get("/scans/{sid}/draft/{path:path}")
    def draft(sid: int, path: str, ctx=Depends(w.page_ctx)):
        sc, _, _ = w.get_scan(ctx["s"], ctx["roles"], sid)
        base = (w.srv.scan_dir(sc.id) / "out").resolve()
        target = (base / path).resolve()
        if not (target.is_relative_to(base / "art14") or target.is_relative_to(base / "advisories")) or not target.is_file():
            raise HTTPException(404)
        return FileResponse(target, filename=target.name, content_disposition_type="attachment")

    return r


def postmarket_router(w: Web) -> APIRouter:
    """Post-market watch."""
    r = APIRouter()

    @r.get("/postmarket", response_class=HTMLResponse)
    def postmarket(ctx=Depends(w.page_ctx)):
        rows, events = w.postmarket_rows(ctx["s"], ctx["roles"])
        names = {r["p"].id: r["p"].name for r in rows}
        return w.render(ctx, "postmarket.html", rows=rows, events=events, names=names)

    @r.post("/products/{pid}/watch")
    async def watch_post(pid: int, ctx=Depends(w.page_ctx)):
        p = w.get_product(ctx["s"], ctx["roles"], pid)
        await w.form_checked(ctx)
        w.need_write(ctx, p.org_id, ctx["lang"])
        w.watch_product(ctx["s"], p)
        return RedirectResponse("/postmarket", status_code=303)

    return r


def org_router(w: Web) -> APIRouter:
    """Organisation members (admin) and the account."""
    r = APIRouter()

    @r.get("/orgs/{oid}/members", response_class=HTMLResponse)
    def members(oid: int, ctx=Depends(w.page_ctx)):
        return w.members_page(ctx, w.org_admin(ctx, oid))

    @r.post("/orgs/{oid}/members", response_class=HTMLResponse)
    async def add_member(oid: int, ctx=Depends(w.page_ctx)):
        form = await w.form_checked(ctx)
        org = w.org_admin(ctx, oid)
        s = ctx["s"]
        email, role, pw = str(form.get("email") or "").strip().lower(), str(form.get("role") or ""), str(form.get("password") or "")
        if role not in ROLES or "@" not in email:
            raise HTTPException(422, t("err.bad_value", ctx["lang"], field="email/role", detail=role))
        u = s.scalars(select(User).where(User.email == email)).first()
        if u is None:
            if len(pw) < 12:
                return w.members_page(ctx, org, t("err.password_short", ctx["lang"]), 422)
            u = User(email=email, name=email, pw_hash=auth.hash_password(pw))
            s.add(u)
            s.flush()
        auth.set_member(s, u, org.id, role)
        s.commit()
        return RedirectResponse(f"/orgs/{oid}/members", status_code=303)

    @r.get("/account", response_class=HTMLResponse)
    def account(ctx=Depends(w.page_ctx)):
        from firmpass.server.db import ApiToken

        toks = ctx["s"].scalars(select(ApiToken).where(ApiToken.user_id == ctx["user"].id)).all()
        return w.render(ctx, "account.html", tokens=toks, new_token=None)

    @r.post("/account/tokens", response_class=HTMLResponse)
    async def new_token(ctx=Depends(w.page_ctx)):
        from firmpass.server.db import ApiToken

        form = await w.form_checked(ctx)
        tok = auth.new_api_token(ctx["s"], ctx["user"], str(form.get("name") or "token"))
        ctx["s"].commit()
        toks = ctx["s"].scalars(select(ApiToken).where(ApiToken.user_id == ctx["user"].id)).all()
        return w.render(ctx, "account.html", tokens=toks, new_token=tok)

    return r


ROUTERS = (auth_router, product_router, profile_router, version_router, triage_router, scan_router, postmarket_router,
           org_router)
