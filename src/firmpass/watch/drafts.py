"""Drafts for the CRA Article 14 clocks that a watch opened, in English and Chinese:

OUT/art14/<CVE>/early-warning.{json,md}    Art. 14(2)(a): within 24 h of awareness
OUT/art14/<CVE>/notification.{json,md}     Art. 14(2)(b): within 72 h
OUT/art14/<CVE>/final-report.{json,md}     Art. 14(2)(c): once the profile records a corrective measure
OUT/art14/<CVE>/user-notification.md       Art. 14(8): informing the impacted users
OUT/advisories/<tracking id>.json          a CSAF 2.0 security advisory for this product version

Every field comes from the scan, the store or the profile; what none of them knows (the nature of the
exploit as the maker understands it, the sensitivity of the information, the Member States when the
profile does not list them) is a marked blank for the maker to fill, never invented.  The drafts are
drafts: the maker submits through ENISA's single reporting platform.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from firmpass import __version__

BLANK_EN = "[to be completed by the manufacturer]"
BLANK_ZH = "【待制造商填写】"
SEV_ZH = {"critical": "严重", "high": "高危", "medium": "中危", "low": "低危", "none": "无", None: "未评级"}
STATUS_ZH = {"early_warning_due": "待提交早期预警", "notification_due": "待提交漏洞通报",
             "awaiting_corrective_measure": "等待纠正措施", "final_report_due": "待提交最终报告", "closed": "已结案"}


def _safe(name: str) -> str:
    """A file name from an identifier the store supplied (never a path)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "unnamed"


def _fields(sc, entry: dict[str, Any], vs: list) -> dict[str, Any]:
    profile = sc.profile or {}
    man = profile.get("manufacturer") or {}
    prod = sc.product
    v = vs[0]
    inc = next((i for i in profile.get("incidents") or [] if isinstance(i, dict) and i.get("id") == entry["id"]), {})
    return {
        "manufacturer": man.get("name"),
        "manufacturer_contact": man.get("email") or man.get("website"),
        "product": prod["name"], "model": prod["model"] or None, "firmware_version": prod["version"],
        "image_sha256": sc.result.image.sha256,
        "vulnerability": entry["id"], "aliases": v.aliases,
        "components": [f"{x.component_name} {x.component_version or ''}".strip() for x in vs],
        "severity": v.severity, "cvss": [c.model_dump() for c in v.cvss][:2],
        "cwes": v.cwes[:3], "description": v.description,
        "exploitation_evidence": v.exploitation(),
        "member_states": profile.get("eu_member_states") or None,
        "aware": entry["aware"], "aware_basis": entry["aware_basis"],
        "deadlines": {"early_warning": entry["early_warning_due"], "notification": entry["notification_due"],
                      "final_report": entry["final_report_due"]},
        "corrective_measure_available": entry.get("corrective_measure_available"),
        "maker_note": inc.get("note"),
        "references": v.references[:10],
    }


def _val(x: Any, zh: bool = False) -> str:
    if x in (None, "", []):
        return BLANK_ZH if zh else BLANK_EN
    if isinstance(x, list):
        return ", ".join(str(i) for i in x)
    return str(x)


def _aware_line(f: dict[str, Any]) -> tuple[str, str]:
    if f["aware_basis"] == "profile":
        return (f"{f['aware']} (recorded in the product profile)", f"{f['aware']}（产品档案中记录）")
    return (f"{f['aware']} (when firmpass first saw evidence of exploitation for this product; "
            "replace it with the time you actually became aware if that was earlier)",
            f"{f['aware']}（firmpass 首次发现本产品相关利用证据的时间；如实际知悉时间更早，请改为实际时间）")


def _expl_lines(f: dict[str, Any]) -> tuple[str, str]:
    en, zh = [], []
    for e in f["exploitation_evidence"]:
        src = {"cisa-kev": "CISA KEV", "euvd": "ENISA EUVD"}.get(e.get("source"), e.get("source"))
        en.append(f"{src} since {e.get('since') or 'an unknown date'}")
        zh.append(f"{src}，自 {e.get('since') or '日期不详'} 起")
    return "; ".join(en) or BLANK_EN, "；".join(zh) or BLANK_ZH


def _md(kind: str, f: dict[str, Any]) -> str:
    aware_en, aware_zh = _aware_line(f)
    expl_en, expl_zh = _expl_lines(f)
    comps = _val(f["components"])
    sev_en = f["severity"] or "not rated"
    sev_zh = SEV_ZH.get(f["severity"], f["severity"])
    head = {"early-warning": ("Early warning of an actively exploited vulnerability (CRA Art. 14(2)(a))",
                              "已被主动利用漏洞的早期预警（CRA 第 14 条第 2 款 (a) 项）"),
            "notification": ("Vulnerability notification (CRA Art. 14(2)(b))", "漏洞通报（CRA 第 14 条第 2 款 (b) 项）"),
            "final-report": ("Final report (CRA Art. 14(2)(c))", "最终报告（CRA 第 14 条第 2 款 (c) 项）"),
            "user-notification": ("Information to users (CRA Art. 14(8))", "告知用户（CRA 第 14 条第 8 款）")}[kind]
    due = {"early-warning": f["deadlines"]["early_warning"], "notification": f["deadlines"]["notification"],
           "final-report": f["deadlines"]["final_report"], "user-notification": None}[kind]
    en = [f"# {head[0]}", "", "DRAFT prepared by firmpass: check every line, fill the marked blanks and submit through "
          "ENISA's single reporting platform (to the coordinating CSIRT and ENISA at the same time).", ""]
    zh = [f"# {head[1]}", "", "firmpass 生成的草稿：请逐行核对、填写标记的空白项，并通过 ENISA 单一报告平台提交"
          "（同时送达协调 CSIRT 与 ENISA）。", ""]
    if due:
        en += [f"Due: {due}", ""]
        zh += [f"截止时间：{due}", ""]
    en += [f"- Manufacturer: {_val(f['manufacturer'])}", f"- Product: {f['product']} {_val(f['model'], False) if f['model'] else ''}".rstrip(),
           f"- Firmware version: {f['firmware_version']} (image SHA-256 {f['image_sha256']})",
           f"- Vulnerability: {f['vulnerability']}", f"- Affected components: {comps}",
           f"- Evidence of active exploitation: {expl_en}", f"- Became aware: {aware_en}"]
    zh += [f"- 制造商：{_val(f['manufacturer'], True)}", f"- 产品：{f['product']} {f['model'] or ''}".rstrip(),
           f"- 固件版本：{f['firmware_version']}（镜像 SHA-256 {f['image_sha256']}）",
           f"- 漏洞编号：{f['vulnerability']}", f"- 受影响组件：{comps}",
           f"- 被主动利用的证据：{expl_zh}", f"- 知悉时间：{aware_zh}"]
    if kind == "early-warning":
        en += [f"- Member States where the product is made available: {_val(f['member_states'])}"]
        zh += [f"- 产品在售的欧盟成员国：{_val(f['member_states'], True)}"]
    if kind in ("notification", "final-report", "user-notification"):
        en += [f"- Severity: {sev_en}" + (f" (CVSS {f['cvss'][0]['base_score']} {f['cvss'][0]['vector']})" if f["cvss"] else ""),
               f"- Nature of the vulnerability: {_val(f['description'])}",
               f"- Nature of the exploit, as the manufacturer understands it: {_val(f['maker_note'])}",
               f"- Corrective or mitigating measures taken: {_val(f['corrective_measure_available'] and 'corrective measure available since ' + f['corrective_measure_available'])}",
               f"- Measures users can take: {BLANK_EN}"]
        zh += [f"- 严重程度：{sev_zh}" + (f"（CVSS {f['cvss'][0]['base_score']} {f['cvss'][0]['vector']}）" if f["cvss"] else ""),
               f"- 漏洞性质（英文原文）：{_val(f['description'], True)}",
               f"- 制造商掌握的利用方式：{_val(f['maker_note'], True)}",
               f"- 已采取的纠正或缓解措施：{_val(f['corrective_measure_available'] and '自 ' + f['corrective_measure_available'] + ' 起已有纠正措施', True)}",
               f"- 用户可采取的措施：{BLANK_ZH}"]
    if kind in ("notification", "final-report"):
        en += [f"- How sensitive the manufacturer considers this information: {BLANK_EN}"]
        zh += [f"- 制造商认为该信息的敏感程度：{BLANK_ZH}"]
    if kind == "final-report":
        en += [f"- Information on the malicious actor, where available: {BLANK_EN}",
               f"- Security update or other corrective measures (version, date): {BLANK_EN}"]
        zh += [f"- 恶意行为者信息（如有）：{BLANK_ZH}", f"- 安全更新或其他纠正措施（版本、日期）：{BLANK_ZH}"]
    if f["references"]:
        en += ["", "References:"] + [f"- {r}" for r in f["references"]]
        zh += ["", "参考链接："] + [f"- {r}" for r in f["references"]]
    return "\n".join(en + ["", "---", ""] + zh) + "\n"


def _advisory(sc, entries: list[dict[str, Any]], vulns: list, now: dt.datetime) -> dict[str, Any]:
    """A CSAF 2.0 security advisory (draft) for this product version: the exploited vulnerabilities
    with their status in this firmware, exploitation evidence as threats, and the remediation the
    profile records (vendor_fix once a corrective measure is available, else none_available: no fix yet)."""
    from firmpass.vulns.vex import to_csaf

    ids = {e["id"] for e in entries}
    res = sc.result.model_copy(update={"vulnerabilities": [v.materialize() for v in vulns if v.id in ids]})
    doc = to_csaf(res, sc.profile)
    d = doc["document"]
    prod = sc.product
    d["category"] = "csaf_security_advisory"
    d["title"] = f"Actively exploited vulnerabilities in {prod['name']} {prod['version']}"
    d["tracking"]["id"] = f"firmpass-adv-{sc.result.image.sha256[:16]}"  # one advisory per firmware version, rewritten
    d["tracking"]["status"] = "draft"
    d["tracking"]["version"] = "0.1.0"
    d["tracking"]["revision_history"] = [{"date": d["tracking"]["current_release_date"], "number": "0.1.0",
                                          "summary": "Draft generated by firmpass watch"}]
    d["notes"] = [{"category": "summary", "title": "Summary",
                   "text": f"{len(ids)} vulnerability(ies) affecting {prod['name']} firmware {prod['version']} "
                           "are reported as exploited in the wild. Draft: to be reviewed by the manufacturer."}]
    d["references"] = [{"category": "external", "summary": f"{e['id']} at NVD",
                        "url": f"https://nvd.nist.gov/vuln/detail/{e['id']}"}
                       for e in entries if re.match(r"^CVE-\d{4}-\d+$", e["id"])][:20]
    if not d["references"]:
        d.pop("references")
    by_id = {e["id"]: e for e in entries}
    for v in doc.get("vulnerabilities", []):
        vid = v.get("cve") or (v.get("ids") or [{}])[0].get("text")
        e = by_id.get(vid) or {}
        pids = [p for ps in (v.get("product_status") or {}).values() for p in ps]
        rem = []
        if e.get("corrective_measure_available"):
            rem.append({"category": "vendor_fix", "date": e["corrective_measure_available"] if "T" in e["corrective_measure_available"]
                        else e["corrective_measure_available"] + "T00:00:00Z",
                        "details": "A corrective measure is available (see the manufacturer's advisory).",
                        "product_ids": pids})
        else:
            rem.append({"category": "none_available", "details": "No fix is available yet; the manufacturer is "
                        "working on a corrective measure.", "product_ids": pids})
        v["remediations"] = rem
        v["threats"] = [t for t in v.get("threats", []) if t.get("category") != "exploit_status"] + [
            {"category": "exploit_status", "details": "; ".join(
                f"{ {'cisa-kev': 'CISA KEV', 'euvd': 'ENISA EUVD'}.get(x.get('source'), x.get('source'))} since "
                f"{x.get('since') or 'unknown'}" for x in (e.get('exploited_list') or [])) or "Exploited in the wild",
             "product_ids": pids}]
    return doc


def write_drafts(sc, vulns: list, doc: dict[str, Any], now: dt.datetime) -> list[str]:
    """Write the drafts for every open Art. 14 entry of `doc`; returns their paths relative to OUT."""
    written: list[str] = []
    entries = [e for e in doc["art14"] if e["status"] != "closed"]
    if not entries:
        return written
    by_id: dict[str, list] = {}
    for v in vulns:
        by_id.setdefault(v.id, []).append(v)
    for e in entries:
        vs = [v for v in by_id.get(e["id"], []) if v.vex.state in ("affected", "under_investigation")]
        if not vs:
            continue
        e["exploited_list"] = vs[0].exploitation()
        d = sc.out / "art14" / _safe(e["id"])
        d.mkdir(parents=True, exist_ok=True)
        f = _fields(sc, e, vs)
        kinds = ["early-warning", "notification"] + (["final-report"] if e.get("corrective_measure_available") else [])
        for kind in kinds + ["user-notification"]:
            (d / f"{kind}.md").write_text(_md(kind, f), encoding="utf-8")
            written.append(str((d / f"{kind}.md").relative_to(sc.out)))
            if kind != "user-notification":
                (d / f"{kind}.json").write_text(json.dumps({"draft": True, "kind": kind, "generator": f"firmpass {__version__}",
                                                            **f}, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
                written.append(str((d / f"{kind}.json").relative_to(sc.out)))
    adv = _advisory(sc, entries, vulns, now)
    for e in entries:
        e.pop("exploited_list", None)
    ad = sc.out / "advisories"
    ad.mkdir(exist_ok=True)
    p = ad / f"{_safe(adv['document']['tracking']['id'])}.json"
    p.write_text(json.dumps(adv, indent=1, ensure_ascii=False), encoding="utf-8")
    written.append(str(p.relative_to(sc.out)))
    return written
