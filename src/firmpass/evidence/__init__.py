"""Evidence stage: OUT/evidence/ and OUT/evidence.zip, what a maker hands to a notified body and
publishes for researchers and customers.

evidence/ holds: both SBOMs (copied from OUT), VEX as CSAF 2.0 and CycloneDX (firmpass.vulns.vex),
security.txt (RFC 9116, validated here), a coordinated vulnerability disclosure policy, a
support-period statement, a CRA Annex VII technical documentation draft and an Annex V EU
declaration of conformity draft (bilingual Markdown, gaps marked [GAP: ...] / [缺失：...]), a
remediation plan (CSV), validation.json (what was validated and every note) and MANIFEST.sha256.
OUT/evidence.zip holds the same files under evidence/, MANIFEST included.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from functools import lru_cache
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, PackageLoader, StrictUndefined

from firmpass import __version__
from firmpass.context import ScanContext
from firmpass.evidence.securitytxt import build_security_txt, validate_security_txt
from firmpass.i18n import exc_detail
from firmpass.model import SEVERITY_ORDER, ScanResult, Text
from firmpass.i18n.terms import terms, value
from firmpass.present.decision import build_decision, cra_route, framework_due, legal_date, standards_applied
from firmpass.present.i18n import as_text, t
from firmpass.present.format import _dicts, get, human_size

CSV_COLUMNS = ["priority", "ref", "framework", "markets", "verdict", "provision_status", "title_en", "title_zh",
               "next_step_en", "next_step_zh", "findings", "root_cause", "owner", "due", "legal_date", "status"]
OPEN_VERDICTS = ("not_met", "partly_met", "needs_evidence")
DOCS = ["cvd-policy.md", "support-period.md", "cra-annex-vii-technical-documentation.md", "eu-declaration-of-conformity.md",
        "cra-annex-ii-user-information.md", "red-declaration-of-conformity.md", "psti-statement-of-compliance.md"]


def md(value: Any) -> str:
    """A value for a Markdown document: one line, no HTML, table cells kept intact."""
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", "" if value is None else str(value)).strip()
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("`", "'"))


def _esc(obj: Any) -> Any:
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
    if v is True:
        return "yes / 是"
    if v is False:
        return "no / 否"
    return v


def _secure_boot_label(v: str) -> str:
    if not v:
        return ""
    try:
        x = t(f"secure_boot.{v}")
    except KeyError:
        return v
    return f"{x.en} / {x.zh} ({v})"


def _verdict_label(v: str) -> tuple[str, str]:
    try:
        x = t(f"verdict.{v}")
        return x.en, x.zh
    except KeyError:
        return v, v


def doc_context(result: ScanResult, assessment: dict | None, profile: dict | None, sboms: list[str], vex: list[str],
                reports: list[dict[str, str]], now: datetime) -> dict[str, Any]:
    p = profile or {}
    cra_class = str(p.get("cra_class") or "")
    sev: dict[str, int] = {}
    for f in result.findings:
        sev[f.severity] = sev.get(f.severity, 0) + 1
    cra_verdicts = []
    frameworks = []
    if assessment:
        for v in _dicts(assessment.get("verdicts")):
            if v.get("framework") == "cra":
                en, zh = _verdict_label(str(v.get("verdict")))
                title = as_text(v.get("title"))
                cra_verdicts.append({"id": v.get("id"), "title_en": title.en, "title_zh": title.zh, "verdict_en": en,
                                     "verdict_zh": zh, "uncertain": bool(v.get("uncertain"))})
        for f in _dicts(assessment.get("frameworks")):
            title = as_text(f.get("title"))
            frameworks.append({"title_en": title.en, "title_zh": title.zh, "version": f.get("version", "")})
    chain = result.image.container_chain
    sb = (result.extra or {}).get("secure_boot") or {}
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
        "image": {"name": result.image.name, "sha256": result.image.sha256, "size": human_size(result.image.size),
                  "chain": [{"id": n.id, "format": n.format, "size": human_size(n.size), "status": n.status} for n in chain[:40]],
                  "chain_more": max(0, len(chain) - 40)},
        "secure_boot": _secure_boot_label(str(sb.get("verdict") or "")),
        "counts": {"components": len(result.components), "vulns": len(result.vulnerabilities),
                   "affected": sum(1 for v in result.vulnerabilities if v.vex.state == "affected"),
                   "kev": sum(1 for v in result.vulnerabilities if v.is_exploited),  # CISA KEV or ENISA EUVD
                   "severity": sorted(sev.items(), key=lambda kv: SEVERITY_ORDER.get(kv[0], 9))},
        "cra_verdicts": cra_verdicts, "frameworks": frameworks, "sboms": sboms, "vex": vex, "reports": reports,
    }
    # every number and claim below comes from the profile; None / "" renders as a marked gap
    c["mf"]["name_zh"] = get(p, "manufacturer.name_zh", "")
    c["vd"].update({"ack_days": _num(get(p, "vulnerability_disclosure.acknowledgement_days")),
                    "update_days": _num(get(p, "vulnerability_disclosure.status_update_days")),
                    "fix_days": _num(get(p, "vulnerability_disclosure.remediation_days_target")),
                    "languages": [str(x) for x in get(p, "vulnerability_disclosure.preferred_languages", []) or []],
                    "personal_data_required": _flag(get(p, "vulnerability_disclosure.reporter_personal_data_required")),
                    "advisories_url": get(p, "vulnerability_disclosure.advisories_url", ""),
                    "reports_upstream": _flag(get(p, "vulnerability_disclosure.reports_upstream"))})
    c["sp"] = {"shown_at_purchase": _flag(get(p, "support.shown_at_purchase")),
               "never_shortened": _flag(get(p, "support.never_shortened")),
               "kept_years": _num(get(p, "support.updates_kept_available_years")),
               "published_url": get(p, "support.published_url", ""), "rationale": get(p, "support.rationale", "")}
    c["upd"] = {k: _flag(get(p, f"updates.{k}")) for k in ("free_of_charge", "automatic", "default_on", "user_can_disable",
                                                            "user_can_postpone", "notify_user", "signed")}
    c["upd"]["mechanism"] = value(get(p, "updates.mechanism")) if get(p, "updates.mechanism") else None
    c["data"] = {k: _flag(get(p, f"data.{k}")) for k in ("user_deletion", "factory_reset", "personal_data")}
    c["prod"] = {k: _flag(get(p, f"product.{k}")) for k in ("radio_equipment", "internet_connected", "handles_payments",
                                                             "toy_or_childcare", "consumer")}
    c["doc_refs"] = {k: (get(p, f"documents.{k}") if isinstance(get(p, f"documents.{k}"), str) else "")
                     for k in ("eu_declaration_of_conformity", "user_security_guide", "sbom_shared", "psti_statement_of_compliance")}
    c["standards"] = standards_applied(profile)
    c["en18031_parts"] = en18031_parts(profile)
    c["cra_route"] = cra_route(assessment, profile)
    c["psti"] = _framework_status(assessment, "psti")
    c["en18031"] = _framework_status(assessment, "en18031")
    c["dates"] = {"cra_reporting": legal_date("eu", "cra", "reporting"), "cra_main": legal_date("eu", "cra", "main"),
                  "red": legal_date("eu", "red", "main"), "psti": legal_date("uk", "psti", "main")}
    c["markets"] = [str(m) for m in get(p, "markets", []) or []]
    return _esc(c)


def _num(v: Any) -> int | float | None:
    """A number from the profile as written (never a default: a missing number is a gap in the document)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return int(v) if v == int(v) else v


def _flag(v: Any) -> bool | None:
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
    vs = [v for v in _dicts((assessment or {}).get("verdicts")) if v.get("framework") == fw]
    mand = [v for v in vs if v.get("status") in ("mandatory", "conditional")]
    open_ = sorted(str(v.get("id")) for v in mand if v.get("verdict") in OPEN_VERDICTS)
    return {"assessed": bool(vs), "open": open_, "all_met": bool(mand) and not open_}


@lru_cache(maxsize=1)
def _env() -> Environment:
    """One environment per process: each template is compiled once (not on every rerender)."""
    env = Environment(loader=PackageLoader("firmpass.evidence", "templates"), autoescape=False,
                      undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(T=terms())  # the term base: T.cra.zh is the CRA's one Chinese name
    return env


def render_docs(ctx_data: dict[str, Any]) -> dict[str, str]:
    env = _env()
    return {name: env.get_template(name + ".j2").render(c=ctx_data) for name in DOCS}


def _csv_cell(v: Any) -> str:
    s = "" if v is None else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s  # no formula injection in spreadsheets


OWNER = {"check": "firmware engineering / 固件研发", "profile": "product management / 产品管理",
         "question": "compliance / 合规", "provision": "compliance / 合规"}


def remediation_plan(result: ScanResult, assessment: dict | None, profile: dict | None) -> str:
    """One row per open provision, in the order to work on them: the root causes of the executive
    summary first (blockers of rules already in force, then by severity and by how many provisions
    one fix closes), then everything else.  `due` is the legal date the provision must be met by; for a
    rule already in force it is the assessment date (due now).  `owner` suggests the team; assign a person."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    if not assessment:
        return buf.getvalue()
    decision = build_decision(result, assessment, profile)
    today = decision["today"]
    root_of: dict[str, dict] = {}
    for rc in decision["root_causes"]:
        for ref in rc["refs"]:
            root_of.setdefault(ref, rc)
    order = {"not_met": 0, "partly_met": 1, "needs_evidence": 2}
    rows = [v for v in _dicts(assessment.get("verdicts")) if v.get("verdict") in OPEN_VERDICTS]

    def key(v: dict) -> tuple:
        rc = root_of.get(str(v.get("ref")))
        return (rc["priority"] if rc else 10_000, order[v["verdict"]], 0 if v.get("status") == "mandatory" else 1,
                str(v.get("ref")))

    rows.sort(key=key)
    for i, v in enumerate(rows, 1):
        title, nxt = as_text(v.get("title")), as_text(v.get("next_step"))
        rc = root_of.get(str(v.get("ref")))
        legal = framework_due(str(v.get("framework")), str(v.get("id", "")))
        due = (max(legal, today) if legal else "") if v.get("status") in ("mandatory", "conditional") else ""
        root = f"{rc['key']}" if rc else ""
        owner = OWNER[rc["kind"]] if rc else ("firmware engineering / 固件研发" if v.get("findings") else "compliance / 合规")
        w.writerow([_csv_cell(x) for x in (i, v.get("ref"), v.get("framework"), ";".join(str(m) for m in v.get("markets") or []),
                                            v.get("verdict"), v.get("status"), title.en, title.zh, nxt.en, nxt.zh,
                                            ";".join(str(f) for f in v.get("findings") or []), root, owner, due, legal, "open")])
    return buf.getvalue()


def _file_descriptions() -> dict[str, Any]:
    return {
        "sbom.cdx.json": t("evidence.file.sbom_cdx"), "sbom.spdx.json": t("evidence.file.sbom_spdx"),
        "vex.csaf.json": t("evidence.file.vex_csaf"), "vex.cdx.json": t("evidence.file.vex_cdx"),
        "security.txt": t("evidence.file.security_txt"), "cvd-policy.md": t("evidence.file.cvd"),
        "support-period.md": t("evidence.file.support"),
        "cra-annex-vii-technical-documentation.md": t("evidence.file.annex_vii"),
        "eu-declaration-of-conformity.md": t("evidence.file.doc"),
        "cra-annex-ii-user-information.md": t("evidence.file.annex_ii"),
        "red-declaration-of-conformity.md": t("evidence.file.red_doc"),
        "psti-statement-of-compliance.md": t("evidence.file.psti_soc"),
        "remediation-plan.csv": t("evidence.file.plan"),
        "finding-decisions.json": t("evidence.file.finding_decisions"),
        "validation.json": t("evidence.file.validation"), "MANIFEST.sha256": t("evidence.file.manifest"),
    }


def index_md(ev: Path, validation: dict[str, Any], notes: list[dict[str, str]], now: datetime) -> str:
    title = t("evidence.index.title")
    lines = [f"# {title.en} / {title.zh}", "", f"firmpass {__version__} · {now.isoformat(timespec='seconds')}", "",
             "| File / 文件 | Content / 内容 | Validation / 校验 |", "|---|---|---|"]
    present = {p.name for p in ev.iterdir()} | {"README.md", "validation.json", "MANIFEST.sha256"}
    for name, desc in _file_descriptions().items():
        if name not in present:
            continue
        val = validation.get(name)
        if val is None:
            mark = ""
        elif val.get("valid") is True:
            mark = f"{t('evidence.valid').en} / {t('evidence.valid').zh}"
        elif val.get("valid") is False:
            mark = f"{t('evidence.invalid').en} / {t('evidence.invalid').zh}"
        else:
            mark = "validation.json"
        lines.append(f"| {name} | {md(desc.en)} / {md(desc.zh)} | {mark} |")
    if notes:
        nt = t("evidence.index.notes")
        lines += ["", f"## {nt.en} / {nt.zh}", ""] + [f"- {md(n['en'])} / {md(n['zh'])}" for n in notes]
    return "\n".join(lines) + "\n"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _note(notes: list[dict[str, str]], key: str, **kw: Any) -> None:
    x = t(key, **kw)
    notes.append({"key": key, "en": x.en, "zh": x.zh})


def write_evidence(out: Path, result: ScanResult, assessment: dict | None, profile: dict | None,
                   now: datetime | None = None, before_reports: Callable[[], None] | None = None) -> dict[str, Any]:
    """Write OUT/evidence/ and OUT/evidence.zip; returns the validation summary (also in validation.json).
    `before_reports` is called before report.pdf / report.html are hashed (the report stage's PDF
    is made in a child process meanwhile: this waits for it)."""
    now = now or datetime.now(timezone.utc)
    from firmpass.outdir import EVIDENCE_MARKER, evidence_is_ours

    ev = out / "evidence"
    if ev.is_symlink() or ev.is_file():
        ev.unlink()
    elif ev.is_dir():
        if not evidence_is_ours(out):  # a user's own evidence/ (a signed DoC inside) is never deleted
            from firmpass.errors import UnusableInput
            raise UnusableInput("err.out_not_ours", path=str(ev))
        shutil.rmtree(ev)
    ev.mkdir(parents=True)
    (ev / EVIDENCE_MARKER).write_text("made by firmpass: removed and rebuilt on every run into this directory\n")
    notes: list[dict[str, str]] = []
    validation: dict[str, Any] = {}

    sboms = _copy_sboms(out, ev, validation, notes)
    vex_files = _write_vex(ev, result, profile, validation, notes)

    # ---- security.txt
    if profile is None:
        _note(notes, "evidence.note.no_profile")
    sectxt = build_security_txt(profile, now)
    (ev / "security.txt").write_text(sectxt, encoding="utf-8")
    sv = validate_security_txt(sectxt, now)
    validation["security.txt"] = {"valid": sv["valid"], "errors": sv["errors"], "errors_zh": sv["errors_zh"],
                                  "warnings": sv["warnings"], "standard": "RFC 9116"}
    if not sv["valid"] and profile is not None:  # without a profile the no_profile note already says why
        _note(notes, "evidence.note.sectxt_invalid",
              detail=Text(en="; ".join(sv["errors"]), zh="；".join(sv["errors_zh"])))

    # ---- documents
    if before_reports is not None:
        before_reports()
    reports = [{"name": n, "sha256": _sha256(out / n)} for n in ("report.pdf", "report.html") if (out / n).is_file()]
    data = doc_context(result, assessment, profile, sboms, vex_files, reports, now)
    for name, text in render_docs(data).items():
        (ev / name).write_text(text, encoding="utf-8")
    if assessment is None:
        _note(notes, "evidence.note.no_assessment")
    (ev / "remediation-plan.csv").write_text(remediation_plan(result, assessment, profile), encoding="utf-8-sig")
    decided = [{"finding": f.id, "check": f.check, "severity": f.severity, "title": as_text(f.title).model_dump(),
                **f.decision.model_dump()} for f in result.findings if f.decision is not None]
    if decided:  # the decisions the scan was given, beside the findings they explain (firmpass.checks.decisions)
        (ev / "finding-decisions.json").write_text(json.dumps({"decisions": decided}, indent=2, ensure_ascii=False),
                                                   encoding="utf-8")

    # ---- index, validation summary, manifest, zip
    (ev / "README.md").write_text(index_md(ev, validation, notes, now), encoding="utf-8")
    summary = {"tool": {"name": "firmpass", "version": __version__}, "generated": now.isoformat(timespec="seconds"),
               "image": {"name": result.image.name, "sha256": result.image.sha256},
               "validation": validation, "notes": notes}
    (ev / "validation.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    files = _seal(out, ev, now)
    summary["files"] = [p.relative_to(ev).as_posix() for p in files] + ["MANIFEST.sha256"]
    return summary


def _copy_sboms(out: Path, ev: Path, validation: dict[str, Any], notes: list[dict[str, str]]) -> list[str]:
    """Copy the SBOMs the sbom stage wrote into evidence/ and record each one's check."""
    sboms = []
    for name in ("sbom.cdx.json", "sbom.spdx.json"):
        src = out / name
        if src.is_file() and not src.is_symlink():
            shutil.copyfile(src, ev / name)
            sboms.append(name)
            try:
                from firmpass.sbom.check import check_sbom
            except ImportError:
                check_sbom = None
            if check_sbom is not None:
                try:
                    validation[name] = json.loads(json.dumps(check_sbom(ev / name), default=str))
                except Exception as e:  # noqa: BLE001 - a checker bug must not lose the package
                    validation[name] = {"error": f"{type(e).__name__}: {e}"}
        else:
            _note(notes, "evidence.note.sbom_absent", name=name)
    return sboms


def _write_vex(ev: Path, result: ScanResult, profile: dict | None, validation: dict[str, Any],
               notes: list[dict[str, str]]) -> list[str]:
    """evidence/vex.csaf.json (validated against CSAF 2.0) and vex.cdx.json; the names written."""
    vex_files = []
    try:
        from firmpass.vulns.vex import to_csaf, to_cyclonedx_vex, validate_csaf
    except ImportError:
        to_csaf = None
        _note(notes, "evidence.note.vex_absent")
    if to_csaf is not None:
        try:
            csaf = to_csaf(result, profile)
            errs = list(validate_csaf(csaf))
            (ev / "vex.csaf.json").write_text(json.dumps(csaf, indent=2, ensure_ascii=False), encoding="utf-8")
            vex_files.append("vex.csaf.json")
            validation["vex.csaf.json"] = {"valid": not errs, "errors": errs[:50], "schema": "CSAF 2.0"}
            if errs:
                _note(notes, "evidence.note.csaf_invalid", n=len(errs))
        except Exception as e:  # noqa: BLE001
            _note(notes, "evidence.note.vex_failed", detail=exc_detail(e))
        try:
            cdx = to_cyclonedx_vex(result)
            (ev / "vex.cdx.json").write_text(json.dumps(cdx, indent=2, ensure_ascii=False), encoding="utf-8")
            vex_files.append("vex.cdx.json")
        except Exception as e:  # noqa: BLE001
            _note(notes, "evidence.note.vex_failed", detail=exc_detail(e))
    return vex_files


def _seal(out: Path, ev: Path, now: datetime) -> list[Path]:
    """MANIFEST.sha256 over evidence/ and evidence.zip (fixed timestamps and modes); the files listed."""
    from firmpass.outdir import EVIDENCE_MARKER
    files = sorted(p for p in ev.rglob("*") if p.is_file() and p.name not in ("MANIFEST.sha256", EVIDENCE_MARKER))
    manifest = "".join(f"{_sha256(p)}  {p.relative_to(ev).as_posix()}\n" for p in files)
    (ev / "MANIFEST.sha256").write_text(manifest, encoding="utf-8")
    tmp = out / "evidence.zip.tmp"
    stamp = (max(now.year, 1980), now.month, now.day, now.hour, now.minute, now.second)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for p in files + [ev / "MANIFEST.sha256"]:
            zi = zipfile.ZipInfo(f"evidence/{p.relative_to(ev).as_posix()}", date_time=stamp)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, p.read_bytes())
    os.replace(tmp, out / "evidence.zip")
    return files


def run(ctx: ScanContext) -> None:
    from firmpass.present.load import inputs

    assessment, profile = inputs(ctx)
    # the report stage's PDF child, when one runs: waited for before the reports are hashed
    summary = write_evidence(ctx.out, ctx.result, assessment, profile, before_reports=ctx.scratch.get("join_reports"))
    info = ctx.result.tool.stages.setdefault("evidence", {})
    info["files"] = summary["files"]
    info["validation"] = {k: bool(v.get("valid", "error" not in v)) for k, v in summary["validation"].items()}
    from firmpass.model import Text

    for n in summary["notes"]:
        ctx.warn("evidence", n["key"].rsplit(".", 1)[-1], Text(en=n["en"], zh=n["zh"]))
