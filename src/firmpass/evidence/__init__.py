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
import shutil
import zipfile
from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, PackageLoader, StrictUndefined

from firmpass import __version__
from firmpass.context import ScanContext
from firmpass.evidence.context import OPEN_VERDICTS, doc_context, md
from firmpass.evidence.context import en18031_parts, support_info  # noqa: F401 - importable from here as before
from firmpass.evidence.securitytxt import build_security_txt, validate_security_txt
from firmpass.i18n import exc_detail
from firmpass.model import ScanResult, Text
from firmpass.i18n.terms import terms
from firmpass.present.decision import build_decision, framework_due
from firmpass.present.i18n import as_text, t
from firmpass.present.format import _dicts

CSV_COLUMNS = ["priority", "ref", "framework", "markets", "verdict", "provision_status", "title_en", "title_zh",
               "next_step_en", "next_step_zh", "findings", "root_cause", "owner", "due", "legal_date", "status"]
DOCS = ["cvd-policy.md", "support-period.md", "cra-annex-vii-technical-documentation.md", "eu-declaration-of-conformity.md",
        "cra-annex-ii-user-information.md", "red-declaration-of-conformity.md", "psti-statement-of-compliance.md"]


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
    ev = _fresh_evidence_dir(out)
    notes: list[dict[str, str]] = []
    validation: dict[str, Any] = {}

    sboms = _copy_sboms(out, ev, validation, notes)
    vex_files = _write_vex(ev, result, profile, validation, notes)

    _write_security_txt(ev, profile, now, validation, notes)

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
    _write_finding_decisions(ev, result)

    # ---- index, validation summary, manifest, zip
    (ev / "README.md").write_text(index_md(ev, validation, notes, now), encoding="utf-8")
    summary = {"tool": {"name": "firmpass", "version": __version__}, "generated": now.isoformat(timespec="seconds"),
               "image": {"name": result.image.name, "sha256": result.image.sha256},
               "validation": validation, "notes": notes}
    (ev / "validation.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    files = _seal(out, ev, now)
    summary["files"] = [p.relative_to(ev).as_posix() for p in files] + ["MANIFEST.sha256"]
    return summary


def _fresh_evidence_dir(out: Path) -> Path:
    """OUT/evidence, emptied (only when firmpass made it: a user's own evidence/ stops the run) and marked as ours."""
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
    return ev


def _write_security_txt(ev: Path, profile: dict | None, now: datetime, validation: dict[str, Any],
                        notes: list[dict[str, str]]) -> None:
    """evidence/security.txt from the profile, checked against RFC 9116 (the result in VALIDATION)."""
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


def _write_finding_decisions(ev: Path, result: ScanResult) -> None:
    """evidence/finding-decisions.json: the decisions the scan was given, beside the findings they
    explain (firmpass.checks.decisions); nothing when there are none."""
    decided = [{"finding": f.id, "check": f.check, "severity": f.severity, "title": as_text(f.title).model_dump(),
                **f.decision.model_dump()} for f in result.findings if f.decision is not None]
    if decided:
        (ev / "finding-decisions.json").write_text(json.dumps({"decisions": decided}, indent=2, ensure_ascii=False),
                                                   encoding="utf-8")


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
