"""The team server's REST API (/api/v1, bearer tokens); it shares its operations with the pages (firmpass.server.web)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, UploadFile
from sqlalchemy import select

from firmpass.server.db import FindingDecision, Product, Version, VexDecision
from firmpass.server.web import Web


def api_router(w: Web) -> APIRouter:
    api = APIRouter(prefix="/api/v1")
    _product_api(api, w)
    _scan_api(api, w)
    return api


def _product_api(api: APIRouter, w: Web) -> None:
    """Portfolio, products, versions (upload starts a scan)."""
    @api.get("/portfolio")
    def api_portfolio(ctx=Depends(w.api_ctx)):
        out = []
        for o in w.portfolio(ctx["s"], ctx["roles"]):
            out.append({"org": {"id": o["org"].id, "name": o["org"].name}, "role": o["role"], "products": [
                {"id": r["product"].id, "name": r["product"].name, "latest_version": r["latest"].label if r["latest"] else None,
                 "markets": {m: {"status": c["kind"], "score": c.get("score"), "blockers": c.get("blockers", [])}
                             for m, c in r["cells"].items()}} for r in o["rows"]]})
        return out

    @api.get("/products")
    def api_products(ctx=Depends(w.api_ctx)):
        ps = ctx["s"].scalars(select(Product).where(Product.org_id.in_(list(ctx["roles"]) or [-1]))).all()
        return [w.product_json(p) for p in ps]

    @api.post("/products", status_code=201)
    async def api_create_product(request: Request, ctx=Depends(w.api_ctx)):
        from firmpass.profile import validate

        body = await request.json()
        org = body.get("org")
        if org not in ctx["roles"]:
            raise HTTPException(404)
        w.need_write(ctx["roles"][org])
        prof = body.get("profile") or {}
        errs = validate(prof)
        if errs:
            raise HTTPException(422, errs)
        p = Product(org_id=org, name=prof["product"]["name"], profile=prof)
        ctx["s"].add(p)
        ctx["s"].commit()
        return w.product_json(p)

    @api.get("/products/{pid}")
    def api_product(pid: int, ctx=Depends(w.api_ctx)):
        return w.product_json(w.get_product(ctx["s"], ctx["roles"], pid))

    @api.get("/products/{pid}/versions")
    def api_versions(pid: int, ctx=Depends(w.api_ctx)):
        p = w.get_product(ctx["s"], ctx["roles"], pid)
        return [w.version_json(ctx["s"], v) for v in ctx["s"].scalars(select(Version).where(Version.product_id == p.id))]

    @api.post("/products/{pid}/versions", status_code=201)
    async def api_upload(pid: int, file: UploadFile, label: str = "", ctx=Depends(w.api_ctx)):
        p = w.get_product(ctx["s"], ctx["roles"], pid)
        w.need_write(ctx["roles"][p.org_id])
        sc = await w.add_version(ctx["s"], p, label, file, ctx["user"].email, "en")
        return {"version": sc.version_id, "scan": sc.id}


def _scan_api(api: APIRouter, w: Web) -> None:
    """Scans, their results and files, triage decisions, version comparison."""
    @api.get("/scans/{sid}")
    def api_scan(sid: int, ctx=Depends(w.api_ctx)):
        sc, _, _ = w.get_scan(ctx["s"], ctx["roles"], sid)
        return w.progress_doc(sc, "en")

    @api.get("/scans/{sid}/results")
    def api_results(sid: int, ctx=Depends(w.api_ctx)):
        sc, _, _ = w.get_scan(ctx["s"], ctx["roles"], sid)
        f, a = w.load_out(sc)
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
    def api_download(sid: int, what: str, ctx=Depends(w.api_ctx)):
        sc, _, _ = w.get_scan(ctx["s"], ctx["roles"], sid)
        return w.file_response(sc, what)

    @api.get("/versions/{vid}/decisions")
    def api_decisions(vid: int, ctx=Depends(w.api_ctx)):
        v, p = w.get_version(ctx["s"], ctx["roles"], vid)
        s = ctx["s"]
        return {"vex": [{c: getattr(d, c) for c in ("id", "version_id", "vuln_id", "component", "status", "justification",
                                                     "note", "who", "at")}
                        for d in s.scalars(select(VexDecision).where(VexDecision.product_id == p.id))],
                "findings": [{c: getattr(d, c) for c in ("id", "version_id", "finding", "kind", "fixed_in", "reason", "who", "at")}
                             for d in s.scalars(select(FindingDecision).where(FindingDecision.product_id == p.id))]}

    @api.post("/versions/{vid}/decisions", status_code=201)
    async def api_decide(vid: int, request: Request, ctx=Depends(w.api_ctx)):
        v, p = w.get_version(ctx["s"], ctx["roles"], vid)
        w.need_write(ctx["roles"][p.org_id])
        body = await request.json()
        if body.get("type") == "finding":
            d = w.record_finding(ctx["s"], v, p, body, ctx["user"].email, "en")
        else:
            d = w.record_vex(ctx["s"], v, p, body, ctx["user"].email, "en")
        return {"id": d.id, "at": d.at}

    @api.get("/products/{pid}/compare")
    def api_compare(pid: int, a: int, b: int, ctx=Depends(w.api_ctx)):
        _, _, _, diff = w.compare_versions(ctx["s"], ctx["roles"], pid, a, b)
        if diff is None:
            raise HTTPException(409, "both versions need a finished scan")
        return diff
