"""`firmpass watch --portfolio DIR`: every saved scan under DIR (laid out product / firmware version /
scan output, or any depth up to MAX_DEPTH), watched together; DIR/portfolio.json and
DIR/portfolio.html (English and Chinese side by side, the report's look) list per product and
version what is new, what is exploited, which Art. 14 clocks run and the next deadline, and the
products whose declared support period has ended or ends within 12 months."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from firmpass.assess.postmarket import parse_when
from firmpass.i18n import msg

MAX_DEPTH = 5
SKIP_DIRS = {"unpacked", "evidence", "art14", "advisories", ".git"}


def find_scans(root: Path, max_depth: int = MAX_DEPTH) -> list[Path]:
    """Directories under root holding a findings.json, never following symlinks, never entering a
    scan's own output folders."""
    found: list[Path] = []
    root = root.resolve()
    for cur, dirs, files in os.walk(root, followlinks=False):
        depth = len(Path(cur).relative_to(root).parts)
        if "findings.json" in files and not os.path.islink(os.path.join(cur, "findings.json")):
            found.append(Path(cur))
            dirs[:] = []  # a scan's output is not a portfolio
            continue
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".") and depth < max_depth)
    return sorted(found)


def support_row(profile: dict[str, Any] | None, now: dt.datetime) -> dict[str, Any] | None:
    """The product's declared support period when it has ended or ends within 12 months, with the CRA
    consequence in both languages; None when it is further away or not declared."""
    end = ((profile or {}).get("support") or {}).get("end_date")
    if not end:
        return None
    try:
        e = parse_when(str(end))
    except ValueError:
        return None
    days = (e - now).days
    if days < 0:
        return {"end_date": str(end), "days_left": days, "state": "ended",
                "text": msg("watch.support.ended", end=str(end)).model_dump()}
    if days <= 365:
        return {"end_date": str(end), "days_left": days, "state": "ending",
                "text": msg("watch.support.ending", end=str(end), days=days).model_dump()}
    return None


def build(root: Path, scans, docs: list[dict[str, Any]], now: dt.datetime) -> dict[str, Any]:
    rows = []
    for sc, doc in zip(scans, docs):
        open_a14 = [a for a in doc["art14"] if a["status"] != "closed"]
        nxt = min((a["next_deadline"] for a in open_a14 if a["next_deadline"]), default=None)
        # the folder layout (DIR/<product>/<version>/...) groups the scans; the profile names the product
        parts = sc.out.resolve().relative_to(root).parts
        group = parts[0] if len(parts) >= 2 else doc["product"]["name"]
        version = "/".join(parts[1:]) if len(parts) >= 2 else doc["product"]["version"]
        rows.append({
            "group": group, "product": doc["product"]["name"] if sc.profile else group, "version": version,
            "declared_version": doc["product"]["version"] if sc.profile else None,
            "out": os.path.relpath(sc.out, root), "image": doc["scan"]["image"],
            "open": doc["counts"]["open"], "new": doc["counts"]["new"], "exploited": doc["counts"]["exploited"],
            "newly_exploited": doc["counts"]["newly_exploited"], "clocks": len(open_a14),
            "overdue": doc["counts"]["art14_overdue"], "next_deadline": nxt,
            "support": support_row(sc.profile, now),
            "new_items": [{"id": r["id"], "component": r["component"], "severity": r["severity"],
                           "exploited": bool(r["exploited"]["kev"] or r["exploited"]["euvd"])} for r in doc["new"][:20]],
            "art14": [{"id": a["id"], "status": a["status"], "next_deadline": a["next_deadline"],
                       "overdue": a["overdue"]} for a in open_a14[:20]],
        })
    rows.sort(key=lambda r: (r["group"].lower(), r["version"]))
    products: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        products.setdefault(r["group"], []).append(r)
    store = docs[0]["store"] if docs else {"sources": {}, "stale": []}
    return {"tool": "firmpass", "checked": now.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),
            "root": str(root), "store": store,
            "totals": {"scans": len(rows), "products": len(products), "new": sum(r["new"] for r in rows),
                       "exploited": sum(r["exploited"] for r in rows), "clocks": sum(r["clocks"] for r in rows),
                       "overdue": sum(r["overdue"] for r in rows),
                       "support_attention": sum(1 for r in rows if r["support"])},
            "products": [{"name": k, "label": v[0]["product"], "versions": v} for k, v in products.items()]}


def render_html(data: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    from firmpass.present.i18n import as_text, t

    env = Environment(loader=PackageLoader("firmpass.watch", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(m=lambda key, **kw: msg(key, **kw), tx=as_text, t=t)
    from importlib import resources

    css = resources.files("firmpass.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    return env.get_template("portfolio.html.j2").render(d=data, css=css)


def write(root: Path, data: dict[str, Any]) -> list[Path]:
    pj, ph = root / "portfolio.json", root / "portfolio.html"
    pj.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    ph.write_text(render_html(data), encoding="utf-8")
    return [pj, ph]
