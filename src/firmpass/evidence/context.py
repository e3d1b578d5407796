"""What the evidence documents' templates read (`doc_context`), escaped for Markdown: the
manufacturer's claims from the profile (a missing one renders as a marked gap), the scan's facts and
the assessment's verdicts."""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from firmpass import __version__
from firmpass.i18n.terms import value
from firmpass.model import SEVERITY_ORDER, ScanResult, Text
from firmpass.present.decision import cra_route, legal_date, standards_applied
from firmpass.present.format import _dicts, get, human_size
from firmpass.present.i18n import as_text, t

OPEN_VERDICTS = ("not_met", "partly_met", "needs_evidence")


def md(value: Any) -> str:
    """A value for a Markdown document: one line, no HTML, table cells kept intact."""
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", "" if value is None else str(value)).strip()
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("`", "'"))


def _esc(obj: Any) -> Any:
    """OBJ with every string (and both halves of every Text) made safe by `md`."""
    if isinstance(obj, Text):
        return {"en": md(obj.en), "zh": md(obj.zh)}
    if isinstance(obj, dict):
        return {k: _esc(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_esc(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float)):
        return obj
    return md(obj)


def _parse_date(v: Any) -> date | None:
    """A date from the profile (a date, a date-time or an ISO string), else None."""
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v[:10])
        except ValueError:
            return None
    return None


def support_info(profile: dict | None) -> dict[str, Any]:
    """The support period from the profile: its dates, length in years and whether it meets the CRA's
    five years (or the expected use time when shorter)."""
    placed = _parse_date(get(profile, "support.placed_on_market"))
    end = _parse_date(get(profile, "support.end_date"))
    exp = get(profile, "support.expected_use_years")
    try:
        exp = float(exp) if exp is not None else None
    except (TypeError, ValueError):
        exp = None
    years = round((end - placed).days / 365.25, 1) if placed and end else None
    cra_ok = None
    if years is not None:
        cra_ok = years >= 5 - 0.05 or (exp is not None and exp < 5 and years >= exp - 0.05)
    return {"placed": placed.isoformat() if placed else "", "end": end.isoformat() if end else "",
            "end_month_en": end.strftime("%B %Y") if end else "", "end_month_zh": f"{end.year} 年 {end.month} 月" if end else "",
            "years": years, "expected_use_years": (int(exp) if exp is not None and exp == int(exp) else exp), "cra_ok": cra_ok}


def _yes_no(v: Any) -> Any:
    """A profile yes/no in both languages; anything else as written."""
    if v is True:
        return "yes / 是"
    if v is False:
        return "no / 否"
    return v


def _secure_boot_label(v: str) -> str:
    """The secure-boot verdict's label in both languages, with the verdict id."""
    if not v:
        return ""
    try:
        x = t(f"secure_boot.{v}")
    except KeyError:
        return v
    return f"{x.en} / {x.zh} ({v})"


def _verdict_label(v: str) -> tuple[str, str]:
    """A verdict's label (English, Chinese); the id itself when unknown."""
    try:
        x = t(f"verdict.{v}")
        return x.en, x.zh
    except KeyError:
        return v, v


def doc_context(result: ScanResult, assessment: dict | None, profile: dict | None, sboms: list[str], vex: list[str],
                reports: list[dict[str, str]], now: datetime) -> dict[str, Any]:
    """Everything the evidence documents' templates read, escaped for Markdown: the manufacturer's
    claims from the profile (a missing one renders as a marked gap), the scan's facts, the verdicts."""
    p = profile or {}
    cra_class = str(p.get("cra_class") or "")
    cra_verdicts, frameworks = _assessment_rows(assessment)
    vd = p.get("vulnerability_disclosure") or {}
    c = {
        "version": __version__, "today": now.date().isoformat(),
        "mf": {k: get(p, f"manufacturer.{k}", "") for k in ("name", "address", "country", "website", "email")},
        "product": {k: get(p, f"product.{k}", "") for k in ("name", "model", "firmware_version", "category", "intended_use")},
        "vd": {k: vd.get(k) or "" for k in ("contact_email", "contact_url", "policy_url", "security_txt_url", "pgp_key_url")},
        "updates": {k: _yes_no(get(p, f"updates.{k}", "")) for k in ("mechanism", "automatic", "signed", "rollback_protection", "transport")},
        "documents": {k: bool(get(p, f"documents.{k}", False)) for k in ("risk_assessment", "technical_documentation", "user_security_guide")},
        "cra_class": cra_class,
        "needs_nb": cra_class in ("important-II", "critical") or (cra_class == "important-I"),
        "support": support_info(profile),
        **_scan_facts(result),
        "cra_verdicts": cra_verdicts, "frameworks": frameworks, "sboms": sboms, "vex": vex, "reports": reports,
    }
    # every number and claim below comes from the profile; None / "" renders as a marked gap
    c["mf"]["name_zh"] = get(p, "manufacturer.name_zh", "")
    c["vd"].update(_disclosure_claims(p))
    c.update(_profile_claims(p))
    c["standards"] = standards_applied(profile)
    c["en18031_parts"] = en18031_parts(profile)
    c["cra_route"] = cra_route(assessment, profile)
    c["psti"] = _framework_status(assessment, "psti")
    c["en18031"] = _framework_status(assessment, "en18031")
    c["dates"] = {"cra_reporting": legal_date("eu", "cra", "reporting"), "cra_main": legal_date("eu", "cra", "main"),
                  "red": legal_date("eu", "red", "main"), "psti": legal_date("uk", "psti", "main")}
    c["markets"] = [str(m) for m in get(p, "markets", []) or []]
    return _esc(c)


def _assessment_rows(assessment: dict | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The CRA verdicts (bilingual title and verdict) and the assessed frameworks (title, version)."""
    cra_verdicts: list[dict[str, Any]] = []
    frameworks: list[dict[str, Any]] = []
    if not assessment:
        return cra_verdicts, frameworks
    for v in _dicts(assessment.get("verdicts")):
        if v.get("framework") == "cra":
            en, zh = _verdict_label(str(v.get("verdict")))
            title = as_text(v.get("title"))
            cra_verdicts.append({"id": v.get("id"), "title_en": title.en, "title_zh": title.zh, "verdict_en": en,
                                 "verdict_zh": zh, "uncertain": bool(v.get("uncertain"))})
    for f in _dicts(assessment.get("frameworks")):
        title = as_text(f.get("title"))
        frameworks.append({"title_en": title.en, "title_zh": title.zh, "version": f.get("version", "")})
    return cra_verdicts, frameworks


def _scan_facts(result: ScanResult) -> dict[str, Any]:
    """The image (name, hash, size, container chain), the secure-boot verdict and the counts by kind and severity."""
    sev: dict[str, int] = {}
    for f in result.findings:
        sev[f.severity] = sev.get(f.severity, 0) + 1
    chain = result.image.container_chain
    sb = (result.extra or {}).get("secure_boot") or {}
    return {
        "image": {"name": result.image.name, "sha256": result.image.sha256, "size": human_size(result.image.size),
                  "chain": [{"id": n.id, "format": n.format, "size": human_size(n.size), "status": n.status} for n in chain[:40]],
                  "chain_more": max(0, len(chain) - 40)},
        "secure_boot": _secure_boot_label(str(sb.get("verdict") or "")),
        "counts": {"components": len(result.components), "vulns": len(result.vulnerabilities),
                   "affected": sum(1 for v in result.vulnerabilities if v.vex.state == "affected"),
                   "kev": sum(1 for v in result.vulnerabilities if v.is_exploited),  # CISA KEV or ENISA EUVD
                   "severity": sorted(sev.items(), key=lambda kv: SEVERITY_ORDER.get(kv[0], 9))},
    }


def _disclosure_claims(p: dict[str, Any]) -> dict[str, Any]:
    """The vulnerability-disclosure policy's numbers and commitments as the profile states them."""
    return {"ack_days": _num(get(p, "vulnerability_disclosure.acknowledgement_days")),
            "update_days": _num(get(p, "vulnerability_disclosure.status_update_days")),
            "fix_days": _num(get(p, "vulnerability_disclosure.remediation_days_target")),
            "languages": [str(x) for x in get(p, "vulnerability_disclosure.preferred_languages", []) or []],
            "personal_data_required": _flag(get(p, "vulnerability_disclosure.reporter_personal_data_required")),
            "advisories_url": get(p, "vulnerability_disclosure.advisories_url", ""),
            "reports_upstream": _flag(get(p, "vulnerability_disclosure.reports_upstream"))}


def _profile_claims(p: dict[str, Any]) -> dict[str, Any]:
    """Support period, updates, data handling, product traits and document references from the profile."""
    upd = {k: _flag(get(p, f"updates.{k}")) for k in ("free_of_charge", "automatic", "default_on", "user_can_disable",
                                                      "user_can_postpone", "notify_user", "signed")}
    upd["mechanism"] = value(get(p, "updates.mechanism")) if get(p, "updates.mechanism") else None
    return {
        "sp": {"shown_at_purchase": _flag(get(p, "support.shown_at_purchase")),
               "never_shortened": _flag(get(p, "support.never_shortened")),
               "kept_years": _num(get(p, "support.updates_kept_available_years")),
               "published_url": get(p, "support.published_url", ""), "rationale": get(p, "support.rationale", "")},
        "upd": upd,
        "data": {k: _flag(get(p, f"data.{k}")) for k in ("user_deletion", "factory_reset", "personal_data")},
        "prod": {k: _flag(get(p, f"product.{k}")) for k in ("radio_equipment", "internet_connected", "handles_payments",
                                                            "toy_or_childcare", "consumer")},
        "doc_refs": {k: (get(p, f"documents.{k}") if isinstance(get(p, f"documents.{k}"), str) else "")
                     for k in ("eu_declaration_of_conformity", "user_security_guide", "sbom_shared",
                               "psti_statement_of_compliance")},
    }


def _num(v: Any) -> int | float | None:
    """A number from the profile as written (never a default: a missing number is a gap in the document)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return int(v) if v == int(v) else v


def _flag(v: Any) -> bool | None:
    """A yes/no from the profile as written (None when it is not a boolean: a gap)."""
    return v if isinstance(v, bool) else None


def en18031_parts(profile: dict | None) -> list[dict[str, Any]]:
    """Which EN 18031 parts the RED delegated act makes relevant, from the profile (Art. 3(3)(d) network,
    (e) personal data / privacy, (f) fraud / money).  None = the profile does not say."""
    radio = get(profile, "product.radio_equipment")
    if radio is False:
        return []
    std = standards_applied(profile)
    parts = [
        {"part": "EN 18031-1", "article": "3(3)(d)", "applies": get(profile, "product.internet_connected")},
        {"part": "EN 18031-2", "article": "3(3)(e)",
         "applies": True if (get(profile, "data.personal_data") or get(profile, "product.toy_or_childcare")) else
         (False if get(profile, "data.personal_data") is False and get(profile, "product.toy_or_childcare") is False else None)},
        {"part": "EN 18031-3", "article": "3(3)(f)", "applies": get(profile, "product.handles_payments")},
    ]
    for p in parts:
        hits = [s for s in std if p["part"].replace(" ", "") in s["standard"].replace(" ", "")]
        p["applied"] = [s["standard"] for s in hits]
        p["partly"] = any(s["full"] is False for s in hits)
    return parts


def _framework_status(assessment: dict | None, fw: str) -> dict[str, Any]:
    """Whether framework FW was assessed, its open mandatory provisions, and whether all are met."""
    vs = [v for v in _dicts((assessment or {}).get("verdicts")) if v.get("framework") == fw]
    mand = [v for v in vs if v.get("status") in ("mandatory", "conditional")]
    open_ = sorted(str(v.get("id")) for v in mand if v.get("verdict") in OPEN_VERDICTS)
    return {"assessed": bool(vs), "open": open_, "all_met": bool(mand) and not open_}
