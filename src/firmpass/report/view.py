"""Turn a ScanResult + assessment + profile into the plain data the report template shows.

Everything here is data, never markup: the template escapes it (autoescape on), because every
string that comes from an image (paths, excerpts, component names, descriptions) is hostile text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmpass.frameworks.registry import market_ids, market_label
from firmpass.i18n.terms import value
from firmpass.model import SEVERITY_ORDER, ScanResult, Text, exploit_source_name
from firmpass.present.format import _dicts, get, human_size  # noqa: F401 - re-exported for the templates' callers
from firmpass.present.i18n import as_text

VERDICTS = ["met", "partly_met", "needs_evidence", "not_met", "not_applicable"]
VERDICT_ORDER = {"not_met": 0, "partly_met": 1, "needs_evidence": 2, "met": 3, "not_applicable": 4}
SEVERITIES = ["critical", "high", "medium", "low", "info"]
HARDENING_KEYS = ["nx", "pie", "relro_full", "relro_partial", "canary", "fortify", "stripped"]
VEX_STATES = ["affected", "not_affected", "fixed", "under_investigation"]


@dataclass
class Caps:
    """How many rows long tables show; the rest is counted and pointed to in findings.json."""

    verdicts: int = 100_000
    findings: int = 100_000
    evidence_per_finding: int = 20
    components: int = 100_000
    vulns: int = 100_000
    containers: int = 200
    warnings: int = 200
    findings_per_verdict: int = 100_000
    questions: int = 100_000
    divergences: int = 100_000
    compact_verdicts: bool = False  # PDF: met / not applicable listed by id, details only for open ones
    pdf: bool = False  # the PDF: long tables (components, container chain, divergences) are a line pointing to
    #                    report.html and the CSVs; findings past the cap are one line each (id, severity, title)

    @classmethod
    def for_pdf(cls) -> "Caps":
        # what a reader of the PDF needs: the decision and summary, the most pressing open verdicts, the
        # findings, the top vulnerabilities; every long table is whole in report.html, findings.json,
        # assessment.json and the evidence CSVs (the PDF's layout time grows with its pages: ~45 -> ~15)
        return cls(verdicts=8, findings=12, evidence_per_finding=1, components=0, vulns=10,
                   containers=0, warnings=10, findings_per_verdict=4, questions=8, divergences=0,
                   compact_verdicts=True, pdf=True)


def _cvss_best(v) -> tuple[float | None, str | None, str | None]:
    if not v.cvss:
        return None, None, None
    best = sorted(v.cvss, key=lambda c: (c.version, c.base_score), reverse=True)[0]
    return best.base_score, best.version, best.vector


def vuln_key(v) -> tuple:
    """Exploited (CISA KEV or ENISA EUVD) first, then severity (CVSS, else the vendor's rating), CVSS, EPSS."""
    score, _, _ = _cvss_best(v)
    epss = (v.epss or {}).get("score") or 0.0
    return (0 if v.is_exploited else 1, SEVERITY_ORDER.get(v.severity or "info", 5), -(score or 0.0), -epss, v.id)


def _vulnerabilities(r: ScanResult, caps: Caps) -> tuple[list[dict[str, Any]], int, dict[str, int], int]:
    """The vulnerability table (exploited first, then by severity), its total, the VEX state counts
    and how many are exploited."""
    vulns = sorted(r.vulnerabilities, key=vuln_key)
    vex_counts = {s: 0 for s in VEX_STATES}
    kev_count = 0
    for v in r.vulnerabilities:
        vex_counts[v.vex.state] = vex_counts.get(v.vex.state, 0) + 1
        kev_count += 1 if v.is_exploited else 0
    vview = []
    for v in vulns[: caps.vulns]:
        score, ver, vector = _cvss_best(v)
        vview.append({"id": v.id, "component": v.component_name, "version": v.component_version or "",
                      "severity": v.severity or "", "cvss": score, "cvss_version": ver or "", "vector": vector or "",
                      "severity_by": ", ".join(str(x.get("source")) for x in v.vendor_severity)
                      if v.severity_basis == "vendor" else "",
                      "cwes": [{"id": str(c.get("id")), "name": str(c.get("name") or "")} for c in v.cwes[:3]],
                      "epss": (v.epss or {}).get("score"), "epss_pct": (v.epss or {}).get("percentile"),
                      "kev": v.kev or None,
                      "exploited": [{"source": exploit_source_name(str(e["source"])), "since": str(e.get("since") or "")}
                                    for e in v.exploitation()],
                      "vex": v.vex.state, "justification": v.vex.justification or "",
                      "vex_detail": as_text(v.vex.detail) if v.vex.detail else None})
    return vview, len(vulns), vex_counts, kev_count


def _assessment_view(assessment: dict | None, caps: Caps) -> dict[str, Any]:
    """The assessment part of the view: markets (registry order), frameworks, provisions (capped, or in
    compact form the most pressing open ones with the rest listed by id), questions and divergences.
    assessment.json read back from disk may be anything: every value is read defensively."""
    verdict_counts = {k: 0 for k in VERDICTS}
    if not assessment:
        return {"markets": [], "frameworks": [], "provisions": [], "provisions_more": 0, "closed": {},
                "verdict_counts": verdict_counts, "questions": [], "questions_more": 0, "divergences": [],
                "divergences_more": 0}
    summ = assessment.get("summary") if isinstance(assessment.get("summary"), dict) else {}
    frameworks = [{"id": str(fw.get("id", "")), "version": str(fw.get("version", "")), "title": as_text(fw.get("title")),
                   "markets": [str(x) for x in fw.get("markets") or []]} for fw in _dicts(assessment.get("frameworks"))]
    fw_order = {f["id"]: i for i, f in enumerate(frameworks)}
    vs = sorted(_dicts(assessment.get("verdicts")),
                key=lambda v: (fw_order.get(str(v.get("framework")), 99), VERDICT_ORDER.get(str(v.get("verdict")), 9), str(v.get("ref"))))
    for v in vs:
        verdict_counts[str(v.get("verdict"))] = verdict_counts.get(str(v.get("verdict")), 0) + 1
    closed: dict[str, dict[str, list[str]]] = {}
    if caps.compact_verdicts:
        vs, closed = _most_pressing(vs, caps.verdicts)
    qs = _dicts(assessment.get("questions"))
    ds = _dicts(assessment.get("divergences"))
    return {"markets": _market_rows(summ), "frameworks": frameworks,
            "provisions": [_provision(v, caps) for v in vs[: caps.verdicts]],
            "provisions_more": max(0, len(vs) - caps.verdicts), "closed": closed, "verdict_counts": verdict_counts,
            "questions": [{"field": str(q.get("field", "")), "question": as_question(as_text(q.get("question"))),
                           "refs": [str(x) for x in q.get("refs") or []][:6]} for q in qs[: caps.questions]],
            "questions_more": max(0, len(qs) - caps.questions),
            "divergences": [{"topic": as_text(d.get("topic")), "refs": [str(x) for x in d.get("refs") or []],
                             "detail": as_text(d.get("detail"))} for d in ds[: caps.divergences]],
            "divergences_more": max(0, len(ds) - caps.divergences)}


def _market_rows(summ: dict) -> list[dict[str, Any]]:
    """One row per market of the summary: the registry's order, then markets it does not know (an older file)."""
    known = market_ids()
    order = [m for m in known if m in summ] + sorted(m for m in summ if m not in known)
    rows = []
    for m in order:
        s = summ.get(m) if isinstance(summ.get(m), dict) else {}
        try:
            score = float(s.get("score") or 0.0)
        except (TypeError, ValueError):
            score = 0.0
        raw = s.get("counts") if isinstance(s.get("counts"), dict) else {}
        rows.append({"id": m, "label": market_label(m), "status": as_text(s.get("label")) if s.get("label") else None,
                     "scored": s.get("score") is not None, "score": max(0.0, min(1.0, score)),
                     "counts": {k: _int(raw.get(k)) for k in VERDICTS},
                     "frameworks": [str(x) for x in s.get("frameworks") or []]})
    return rows


def _most_pressing(vs: list[dict], n: int) -> tuple[list[dict], dict[str, dict[str, list[str]]]]:
    """The N most pressing open verdicts (not met first, mandatory first) in VS's order, and the
    others' ids by framework and verdict ("?" after an uncertain one)."""
    open_vs = [v for v in vs if v.get("verdict") not in ("met", "not_applicable")]
    open_vs.sort(key=lambda v: (VERDICT_ORDER.get(v.get("verdict"), 9), 0 if v.get("status") == "mandatory" else 1))
    detailed = {id(v) for v in open_vs[:n]}
    closed: dict[str, dict[str, list[str]]] = {}
    for v in vs:
        if id(v) not in detailed:
            closed.setdefault(str(v.get("framework", "")), {}).setdefault(str(v.get("verdict")), []).append(
                str(v.get("id", "")) + ("?" if v.get("uncertain") else ""))
    return [v for v in vs if id(v) in detailed], closed


def _provision(v: dict, caps: Caps) -> dict[str, Any]:
    """One verdict as the report shows it (its findings capped)."""
    return {
        "ref": str(v.get("ref", "")), "framework": str(v.get("framework", "")), "id": str(v.get("id", "")),
        "title": as_text(v.get("title")), "status": str(v.get("status", "")), "verdict": str(v.get("verdict", "")),
        "reason": as_text(v.get("reason")), "next_step": as_text(v.get("next_step")),
        "findings": [str(x) for x in (v.get("findings") or [])[: caps.findings_per_verdict]],
        "findings_more": max(0, len(v.get("findings") or []) - caps.findings_per_verdict),
        "answers": [{"field": str(a.get("field", "")), "value": value(a.get("value"))}
                    for a in v.get("profile_answers") or [] if isinstance(a, dict)],
        "uncertain": bool(v.get("uncertain")), "uncertainty": as_text(v.get("uncertainty")),
        "markets": [str(x) for x in v.get("markets") or []],
    }


def build_view(result: ScanResult, assessment: dict | None, profile: dict | None, caps: Caps) -> dict[str, Any]:
    r = result
    extra = r.extra or {}

    identity, chain = _identity(r, extra, assessment, caps)
    fv = _findings(r, assessment, caps)

    # ----------------------------------------------------------------- components
    comps = sorted(r.components, key=lambda c: (c.name.lower(), c.version or ""))
    cview = [{"name": c.name, "version": c.version or "", "type": c.type, "purl": c.purl or "", "cpe": c.cpe or "",
              "supplier": c.supplier or "", "confidence": c.confidence, "weak": c.confidence < 0.5,
              "methods": sorted({e.method for e in c.evidence})} for c in comps[: caps.components]]

    # ----------------------------------------------------------------- vulnerabilities: exploited first
    vview, vulns_total, vex_counts, kev_count = _vulnerabilities(r, caps)

    # ----------------------------------------------------------------- assessment
    assessment_view = _assessment_view(assessment, caps)

    hard = extra.get("hardening") or {}
    elf_count = _int(hard.get("elf_count"))
    hardening = _hardening(hard, elf_count)
    sb = extra.get("secure_boot") or {}

    prof = profile or {}
    from firmpass.present.decision import build_decision

    decision = build_decision(r, assessment, profile)
    return {
        "decision": decision,
        "identity": identity,
        "findings": fv["findings"], "findings_total": len(r.findings),
        "findings_more": max(0, len(r.findings) - caps.findings),
        "findings_rest": fv["findings_rest"], "pdf": caps.pdf, "chain_total": len(chain),
        "divergences_total": len(_dicts((assessment or {}).get("divergences"))) if assessment else 0,
        "severity_counts": fv["severity_counts"], "finding_titles": fv["finding_titles"],
        "components": cview, "components_total": len(comps), "components_more": max(0, len(comps) - caps.components),
        "vulns": vview, "vulns_total": vulns_total, "vulns_more": max(0, vulns_total - caps.vulns),
        "vex_counts": vex_counts, "kev_count": kev_count,
        "assessment": assessment is not None, **assessment_view, "compact": caps.compact_verdicts,
        "hardening": hardening, "elf_count": elf_count,
        "secure_boot": {"verdict": str(sb.get("verdict", "")), "detail": str(sb.get("detail", "") or "")} if sb else None,
        "warnings": [{"stage": w.stage, "code": w.code, "message": as_text(w.message), "part": w.part or ""}
                     for w in r.warnings[: caps.warnings]],
        "warnings_more": max(0, len(r.warnings) - caps.warnings),
        "product": {
            "manufacturer": str(get(prof, "manufacturer.name", "")),
            "manufacturer_zh": str(get(prof, "manufacturer.name_zh", "")), "name": str(get(prof, "product.name", "")),
            "model": str(get(prof, "product.model", "")), "firmware_version": str(get(prof, "product.firmware_version", "")),
            "support_end": str(get(prof, "support.end_date", "")),
        },
        "profile": profile is not None,
    }


def _identity(r: ScanResult, extra: dict, assessment: dict | None, caps: Caps) -> tuple[dict[str, Any], list[dict]]:
    """The image, its container chain, the tool and the vulnerability data it was matched against."""
    chain = [{"id": c.id, "parent": c.parent or "", "format": c.format, "offset": c.offset, "size": human_size(c.size),
              "status": c.status, "source_path": c.source_path or ""} for c in r.image.container_chain]
    vdb = extra.get("vuln_db") or {}
    sources = []
    for name, info in sorted((vdb.get("sources") or {}).items()):
        info = info if isinstance(info, dict) else {}
        sources.append({"name": str(name), "records": info.get("records"), "last_update": str(info.get("last_update") or "")})
    file_types: dict[str, int] = {}
    for f in r.files:
        file_types[f.type] = file_types.get(f.type, 0) + 1
    identity = {
        "name": r.image.name, "sha256": r.image.sha256, "size": human_size(r.image.size), "size_bytes": r.image.size,
        "chain": chain[: caps.containers], "chain_more": max(0, len(chain) - caps.containers),
        "files": len(r.files), "file_types": sorted(file_types.items()),
        "version": r.tool.version, "started": r.tool.started, "finished": r.tool.finished or "",
        "vuln_db_sources": sources, "vuln_db_empty": bool(vdb.get("empty")) if vdb else None,
        "vuln_db_present": bool(vdb),
        "assessment_generated": (assessment or {}).get("generated", ""),
        "unopened": _unopened(r),
    }
    return identity, chain


def _findings(r: ScanResult, assessment: dict | None, caps: Caps) -> dict[str, Any]:
    """The findings, worst first, up to the cap (with their evidence), the rest one line each, the counts."""
    findings = sorted(r.findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.id))
    sev_counts = {s: 0 for s in SEVERITIES}
    for f in r.findings:
        sev_counts[f.severity] = sev_counts.get(f.severity, 0) + 1
    fview = []
    cited = ((assessment or {}).get("citations") or {}).get("findings") or {}
    if not isinstance(cited, dict):
        cited = {}
    for f in findings[: caps.findings]:
        ev = [{"path": e.path, "container": e.container or "", "line": e.line, "excerpt": e.excerpt or "",
               "sha256": e.sha256 or "",
               "detail": as_text(e.detail) if e.detail and (e.detail.en or e.detail.zh) else None}
              for e in f.evidence[: caps.evidence_per_finding]]
        fview.append({"id": f.id, "check": f.check, "severity": f.severity, "title": as_text(f.title),
                      "description": as_text(f.description), "remediation": as_text(f.remediation),
                      "evidence": ev, "evidence_more": max(0, len(f.evidence) - caps.evidence_per_finding),
                      # as the assessment cites them for the chosen EN 303 645 version (5.6-4 <-> 5.6-4A)
                      "provisions": list(cited.get(f.id, f.provisions)),
                      "decision": _decision_view(f.decision)})
    finding_titles = {f.id: as_text(f.title) for f in r.findings}
    # the findings past the cap, one line each: every finding is named in the PDF, its details are in report.html
    findings_rest = [{"id": f.id, "severity": f.severity, "title": as_text(f.title)}
                     for f in findings[caps.findings:]] if caps.pdf else []
    return {"findings": fview, "findings_rest": findings_rest, "severity_counts": sev_counts,
            "finding_titles": finding_titles}


def _hardening(hard: dict, elf_count: int) -> list[dict[str, Any]]:
    """Each hardening property: how many of the ELF files (of the executables, for PIE) have it."""
    hardening = []
    if elf_count:
        executables = _int(hard.get("executables")) or elf_count
        for k in HARDENING_KEYS:
            if k in hard:
                n = _int(hard.get(k))
                # PIE is a property of executables; shared libraries are position-independent anyway
                total = executables if k == "pie" else elf_count
                hardening.append({"key": k, "n": n, "total": total, "ratio": n / total if total else 0.0})
    return hardening


def as_question(q: Text) -> Text:
    """An open question reads as a question in both languages: a bare label from the profile
    questionnaire ('Manufacturer postal address') becomes 'What is the manufacturer postal address?'."""
    en, zh = q.en.strip(), q.zh.strip()
    if en and not en.endswith("?"):
        en = f"What is the answer for: {en}?" if not en[:1].isupper() else f"{en}?" if en.split()[0] in (
            "Is", "Are", "Does", "Do", "Can", "How", "What", "Which", "Who", "When", "Where", "Why") else \
            f"What is the {en[0].lower() + en[1:]}?"
    if zh and not zh.endswith(("？", "?")):
        zh = f"{zh.rstrip('。')}是什么？"
    return Text(en=en, zh=zh)
def _unopened(r: ScanResult) -> dict[str, Any] | None:
    """An image unpack could not open: its warning, likely cause and entropy profile (unpack.blob)."""
    if r.image.opened is not False:
        return None
    ent = r.image.entropy or {}
    warning = next((w.message for w in r.warnings if w.code == "not_opened"), None)
    return {"cause": r.image.likely_cause, "warning": warning, "magic": r.image.magic or "",
            "values": list(ent.get("values") or []), "region_size": int(ent.get("region_size") or 0),
            "mean": ent.get("mean")}


def _int(x: Any) -> int:
    try:
        return int(x or 0)
    except (TypeError, ValueError):
        return 0


def _decision_view(d) -> dict[str, Any] | None:
    """A person's decision on a finding (firmpass.checks.decisions), as the report shows it."""
    if d is None:
        return None
    from firmpass.present.i18n import t

    kind = (t("findings.decision.fixed_in_version", version=d.fixed_in or "?") if d.kind == "fixed_in_version"
            else t("findings.decision.accepted_risk"))
    return {"kind": d.kind, "label": kind, "reason": d.reason, "by": t("findings.decision.by", who=d.who, at=d.at)}
