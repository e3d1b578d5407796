"""Two saved scans of a product compared: what a new firmware version changed.

    from firmpass.compare import compare_dirs
    diff = compare_dirs(Path("out-1.0"), Path("out-1.1"))

Read from each OUT: findings.json (components, vulnerabilities, findings; its per-file list is not
read) and assessment.json when present (verdicts, readiness per market).  What is compared:

- components by name (and type): added, removed, upgraded / downgraded (firmpass.vulns.versions
  orders the versions, in the scheme of the component's PURL when it has one), changed otherwise
  (several versions of one name on either side that do not order one way);
- vulnerabilities by (id, component name), open = VEX state affected or under investigation: fixed
  (open in A, not open in B, with why: component gone, version changed, a VEX statement, no longer
  matched) and introduced (open in B, not in A), the exploited ones first;
- findings by (check, evidence paths, English title): finding ids are numbered per scan and are not
  stable, while the title carries the finding's subject (the account, the service, the file);
- verdicts per provision (`ref`): changed ones, better or worse in the order not met < partly met <
  needs evidence < met (not applicable is neither), and the score per market.

Nothing is written; `firmpass compare A B [--json] [-o FILE]` prints it or saves the JSON.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from firmpass.errors import FirmpassError
from firmpass.model import Text

OPEN = ("affected", "under_investigation")
VERDICT_RANK = {"not_met": 0, "partly_met": 1, "needs_evidence": 2, "met": 3}
MAX_JSON = 512 * 1024 * 1024


@lru_cache(maxsize=None)
def _catalogue() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(resources.files(__package__).joinpath("messages.yaml").read_text(encoding="utf-8"))
    for key, entry in data.items():
        if not (isinstance(entry, dict) and entry.get("en") and entry.get("zh")):
            raise ValueError(f"compare message {key!r} lacks en or zh")
    return data


def text(key: str, **kw) -> Text:
    from firmpass.i18n import fill

    e = _catalogue()[key]
    return fill(e["en"], e["zh"], kw)


class CompareError(FirmpassError):
    def __init__(self, key: str, **kw):
        self.text = text(key, **kw)
        Exception.__init__(self, self.text.en)


def load_side(out: Path) -> dict[str, Any]:
    """findings.json (without files) and assessment.json (optional) of one scan directory."""
    p = out / "findings.json"
    try:
        if not p.is_file() or p.stat().st_size > MAX_JSON:
            raise ValueError
        f = json.loads(p.read_bytes())
        if not isinstance(f, dict) or not isinstance(f.get("image"), dict):
            raise ValueError
    except (OSError, ValueError):
        raise CompareError("compare.err.not_scan", path=str(out)) from None
    f["files"] = []
    a = None
    ap = out / "assessment.json"
    if ap.is_file() and ap.stat().st_size <= MAX_JSON:
        try:
            a = json.loads(ap.read_bytes())
        except ValueError:
            a = None
    prod = _product(out)
    return {"out": str(out), "findings": f, "assessment": a if isinstance(a, dict) else None,
            "label": {"image": f["image"].get("name"), "sha256": f["image"].get("sha256"),
                      "product": prod.get("name"), "version": prod.get("firmware_version"),
                      "scanned": (f.get("tool") or {}).get("finished")}}


def _product(out: Path) -> dict[str, Any]:
    """The product named by the profile the scan was assessed with (when it can still be read)."""
    from firmpass.assess import recorded_profile

    try:
        pp = recorded_profile(out, [])
        if pp is None:
            return {}
        from firmpass.profile import load_profile

        return (load_profile(pp) or {}).get("product") or {}
    except Exception:  # noqa: BLE001 - a profile gone or changed: the comparison goes on without names
        return {}


# ------------------------------------------------------------------------------------------ components
def _scheme(c: dict[str, Any]) -> str | None:
    from firmpass.vulns.versions import scheme_for

    purl = c.get("purl") or ""
    return scheme_for(purl[4:].split("/", 1)[0]) if purl.startswith("pkg:") else None


def _order(a: list[str], b: list[str], scheme: str | None) -> str:
    """upgraded / downgraded when every version of B is above (below) every version of A."""
    from firmpass.vulns.versions import compare

    if not a or not b:
        return "changed"
    cmp = {compare(y, x, scheme) for x in a for y in b}
    if cmp == {1}:
        return "upgraded"
    if cmp == {-1}:
        return "downgraded"
    return "changed"


def compare_components(ca: list[dict], cb: list[dict]) -> dict[str, list[dict[str, Any]]]:
    def group(cs):
        g: dict[tuple[str, str], dict[str, Any]] = {}
        for c in cs:
            k = ((c.get("name") or "").lower(), c.get("type") or "application")
            e = g.setdefault(k, {"name": c.get("name"), "type": c.get("type"), "versions": set(), "purl": None})
            if c.get("version"):
                e["versions"].add(c["version"])
            e["purl"] = e["purl"] or c.get("purl")
        return g

    ga, gb = group(ca), group(cb)
    res: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "upgraded": [], "downgraded": [], "changed": []}
    for k in sorted(set(ga) | set(gb)):
        a, b = ga.get(k), gb.get(k)
        if a is None:
            res["added"].append({"name": b["name"], "type": b["type"], "version": sorted(b["versions"])})
        elif b is None:
            res["removed"].append({"name": a["name"], "type": a["type"], "version": sorted(a["versions"])})
        elif a["versions"] != b["versions"]:
            kind = _order(sorted(a["versions"]), sorted(b["versions"]), _scheme({"purl": b["purl"] or a["purl"]}))
            res[kind].append({"name": b["name"], "type": b["type"], "from": sorted(a["versions"]),
                              "to": sorted(b["versions"])})
    return res


# ------------------------------------------------------------------------------------------ vulnerabilities
def _exploited(v: dict[str, Any]) -> bool:
    return bool(v.get("kev") or v.get("exploited"))


def _vrow(v: dict[str, Any]) -> dict[str, Any]:
    return {"id": v.get("id"), "component": v.get("component_name"), "version": v.get("component_version"),
            "severity": v.get("severity"), "exploited": _exploited(v), "epss": (v.get("epss") or {}).get("score"),
            "vex": (v.get("vex") or {}).get("state", "affected")}


def _vorder(r: dict[str, Any]):
    from firmpass.model import SEVERITY_ORDER

    return (not r["exploited"], SEVERITY_ORDER.get(r["severity"] or "", 9), r["id"] or "", r["component"] or "")


def compare_vulns(va: list[dict], vb: list[dict], ca: list[dict], cb: list[dict]) -> dict[str, Any]:
    def by_key(vs):
        return {(v.get("id"), (v.get("component_name") or "").lower()): v for v in vs}

    ka, kb = by_key(va), by_key(vb)
    open_a = {k for k, v in ka.items() if (v.get("vex") or {}).get("state", "affected") in OPEN}
    open_b = {k for k, v in kb.items() if (v.get("vex") or {}).get("state", "affected") in OPEN}
    names_b: dict[str, set[str]] = {}
    for c in cb:
        names_b.setdefault((c.get("name") or "").lower(), set()).add(c.get("version") or "")
    fixed = []
    for k in open_a - open_b:
        row = _vrow(ka[k])
        if k in kb:
            st = (kb[k].get("vex") or {}).get("state")
            row["why"] = text("compare.why.vex", state=st).model_dump()
        elif k[1] not in names_b:
            row["why"] = text("compare.why.component_removed").model_dump()
        elif row["version"] not in names_b[k[1]]:
            row["why"] = text("compare.why.component_changed", old=row["version"] or "?",
                              new=", ".join(sorted(names_b[k[1]])) or "?").model_dump()
        else:
            row["why"] = text("compare.why.no_longer_matched").model_dump()
        fixed.append(row)
    introduced = [_vrow(kb[k]) for k in open_b - open_a]
    fixed.sort(key=_vorder)
    introduced.sort(key=_vorder)
    return {"fixed": fixed, "introduced": introduced, "still_open": len(open_a & open_b)}


# ------------------------------------------------------------------------------------------ findings
def finding_key(f: dict[str, Any]) -> tuple:
    paths = tuple(sorted({e.get("path") or "" for e in f.get("evidence") or []})[:50])
    return (f.get("check"), paths, ((f.get("title") or {}).get("en") or ""))


def _frow(f: dict[str, Any]) -> dict[str, Any]:
    return {"id": f.get("id"), "check": f.get("check"), "severity": f.get("severity"), "title": f.get("title"),
            "paths": sorted({e.get("path") or "" for e in f.get("evidence") or []})[:10]}


def compare_findings(fa: list[dict], fb: list[dict]) -> dict[str, Any]:
    from firmpass.model import SEVERITY_ORDER

    ka = {finding_key(f): f for f in fa}
    kb = {finding_key(f): f for f in fb}

    def order(r):
        return (SEVERITY_ORDER.get(r["severity"] or "", 9), r["check"] or "", r["id"] or "")

    return {"fixed": sorted((_frow(ka[k]) for k in set(ka) - set(kb)), key=order),
            "introduced": sorted((_frow(kb[k]) for k in set(kb) - set(ka)), key=order),
            "unchanged": len(set(ka) & set(kb))}


# ------------------------------------------------------------------------------------------ verdicts
def compare_verdicts(aa: dict | None, ab: dict | None) -> dict[str, Any]:
    va = {v["ref"]: v for v in (aa or {}).get("verdicts") or [] if isinstance(v, dict) and v.get("ref")}
    vb = {v["ref"]: v for v in (ab or {}).get("verdicts") or [] if isinstance(v, dict) and v.get("ref")}
    changed = []
    for ref in sorted(set(va) | set(vb)):
        a, b = va.get(ref), vb.get(ref)
        old, new = (a or {}).get("verdict"), (b or {}).get("verdict")
        if old == new:
            continue
        ra, rb = VERDICT_RANK.get(old or ""), VERDICT_RANK.get(new or "")
        direction = "better" if ra is not None and rb is not None and rb > ra else \
            "worse" if ra is not None and rb is not None and rb < ra else "changed"
        src = b or a
        changed.append({"ref": ref, "framework": src.get("framework"), "id": src.get("id"), "title": src.get("title"),
                        "markets": src.get("markets") or [], "binding": src.get("binding"), "from": old, "to": new,
                        "direction": direction, "reason": (b or {}).get("reason")})
    order = {"worse": 0, "better": 1, "changed": 2}
    changed.sort(key=lambda c: (order[c["direction"]], c["ref"]))
    sa, sb = (aa or {}).get("summary") or {}, (ab or {}).get("summary") or {}
    markets = {}
    for m in [m for m in ("eu", "uk", "us", "cn") if m in sa or m in sb] + sorted(set(sa) | set(sb) - {"eu", "uk", "us", "cn"}):
        x, y = sa.get(m) or {}, sb.get(m) or {}
        markets[m] = {"from": x.get("score"), "to": y.get("score"),
                      "not_met_from": (x.get("counts") or {}).get("not_met"),
                      "not_met_to": (y.get("counts") or {}).get("not_met"),
                      "label_from": x.get("label"), "label_to": y.get("label")}
    return {"changed": changed, "markets": markets}


# ------------------------------------------------------------------------------------------ all
def compare_sides(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    fa, fb = a["findings"], b["findings"]
    comps = compare_components(fa.get("components") or [], fb.get("components") or [])
    vulns = compare_vulns(fa.get("vulnerabilities") or [], fb.get("vulnerabilities") or [],
                          fa.get("components") or [], fb.get("components") or [])
    finds = compare_findings(fa.get("findings") or [], fb.get("findings") or [])
    verdicts = compare_verdicts(a["assessment"], b["assessment"])
    ch = verdicts["changed"]
    counts = {"components_added": len(comps["added"]), "components_removed": len(comps["removed"]),
              "components_upgraded": len(comps["upgraded"]), "components_downgraded": len(comps["downgraded"]),
              "components_changed": len(comps["changed"]),
              "vulnerabilities_fixed": len(vulns["fixed"]), "vulnerabilities_introduced": len(vulns["introduced"]),
              "exploited_introduced": sum(1 for v in vulns["introduced"] if v["exploited"]),
              "vulnerabilities_still_open": vulns["still_open"],
              "findings_fixed": len(finds["fixed"]), "findings_introduced": len(finds["introduced"]),
              "findings_unchanged": finds["unchanged"],
              "verdicts_better": sum(1 for c in ch if c["direction"] == "better"),
              "verdicts_worse": sum(1 for c in ch if c["direction"] == "worse"),
              "verdicts_changed_other": sum(1 for c in ch if c["direction"] == "changed")}
    return {"tool": "firmpass", "a": {"out": a["out"], **a["label"]}, "b": {"out": b["out"], **b["label"]},
            "counts": counts, "components": comps, "vulnerabilities": vulns, "findings": finds, "verdicts": verdicts}


def compare_dirs(a: Path, b: Path) -> dict[str, Any]:
    return compare_sides(load_side(a), load_side(b))


def summary_lines(d: dict[str, Any]) -> list[Text]:
    """The comparison in a few bilingual lines (the command's text output)."""
    c = d["counts"]
    lines = [text("compare.head", a=f"{d['a']['out']} ({d['a']['image']})", b=f"{d['b']['out']} ({d['b']['image']})"),
             text("compare.sec.components", added=c["components_added"], removed=c["components_removed"],
                  upgraded=c["components_upgraded"], downgraded=c["components_downgraded"],
                  changed=c["components_changed"])]
    for kind in ("added", "removed", "upgraded", "downgraded", "changed"):
        for r in d["components"][kind]:
            v = ", ".join(r["version"]) if "version" in r else f"{', '.join(r['from']) or '?'} -> {', '.join(r['to']) or '?'}"
            k = text(f"compare.kind.{kind}")
            lines.append(Text(en=f"  {k.en}: {r['name']} {v}", zh=f"  {k.zh}：{r['name']} {v}"))
    lines.append(text("compare.sec.vulns", fixed=c["vulnerabilities_fixed"], introduced=c["vulnerabilities_introduced"],
                      exploited=c["exploited_introduced"], open=c["vulnerabilities_still_open"]))
    ex = text("compare.exploited")
    for kind in ("introduced", "fixed"):
        k = text(f"compare.kind.{kind}")
        for r in d["vulnerabilities"][kind]:
            why = r.get("why") or {}
            mark = (f" [{ex.en}]", f" [{ex.zh}]") if r["exploited"] else ("", "")
            lines.append(Text(en=f"  {k.en}: {r['id']} {r['component']} {r['version'] or ''}{mark[0]}"
                                 + (f" ({why['en']})" if why else ""),
                              zh=f"  {k.zh}：{r['id']} {r['component']} {r['version'] or ''}{mark[1]}"
                                 + (f"（{why['zh']}）" if why else "")))
    lines.append(text("compare.sec.findings", fixed=c["findings_fixed"], introduced=c["findings_introduced"],
                      same=c["findings_unchanged"]))
    for kind in ("introduced", "fixed"):
        k = text(f"compare.kind.{kind}")
        for r in d["findings"][kind]:
            t = r["title"] or {"en": "", "zh": ""}
            lines.append(Text(en=f"  {k.en}: [{r['severity']}] {r['check']} {t.get('en', '')}",
                              zh=f"  {k.zh}：[{r['severity']}] {r['check']} {t.get('zh', '')}"))
    lines.append(text("compare.sec.verdicts", better=c["verdicts_better"], worse=c["verdicts_worse"],
                      other=c["verdicts_changed_other"]))
    from firmpass.present.i18n import t as chrome

    for m, s in d["verdicts"]["markets"].items():
        def pct(x):
            return "-" if x is None else f"{x * 100:.0f}%"

        try:
            name = chrome(f"market.{m}")
        except KeyError:
            name = Text(en=m, zh=m)
        lines.append(text("compare.market", market=name, old=pct(s["from"]), new=pct(s["to"]),
                          old_nm=s["not_met_from"] if s["not_met_from"] is not None else "-",
                          new_nm=s["not_met_to"] if s["not_met_to"] is not None else "-"))
    for r in d["verdicts"]["changed"]:
        k = text(f"compare.kind.{r['direction']}")
        vf = chrome(f"verdict.{r['from']}") if r["from"] else Text(en="-", zh="-")
        vt = chrome(f"verdict.{r['to']}") if r["to"] else Text(en="-", zh="-")
        lines.append(Text(en=f"  {k.en}: {r['ref']} {vf.en} -> {vt.en}", zh=f"  {k.zh}：{r['ref']} {vf.zh} -> {vt.zh}"))
    return lines
