from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from firmpass.context import ScanOptions
from firmpass.model import Evidence, Text
from firmpass.report import render_html, run as report_run
from firmpass.report.view import Caps
from tests.report.conftest import needs_poppler, pdftotext


def test_html_escapes_hostile_image_text(result, assessment, profile):
    result.findings[0].evidence[0].excerpt = '<img src=x onerror="alert(1)"></td></tr></table>'
    result.findings[0].title.zh = "<script>alert('zh')</script>默认密码"
    result.components[0].name = "<b onmouseover=alert(2)>openssl</b>"
    html = render_html(result, assessment, profile)
    assert "<img src=x" not in html and "<script>alert" not in html and "<b onmouseover" not in html
    assert "&lt;img src=x onerror=" in html
    assert "&lt;script&gt;alert(" in html
    assert "&lt;b onmouseover=alert(2)&gt;openssl" in html


def test_html_sections_and_order(result, assessment, profile):
    html = render_html(result, assessment, profile)
    # exploited (KEV) first even though its CVSS (7.5) is below the critical ones
    assert html.index("CVE-2014-0160") < html.index("CVE-2023-38545") < html.index("CVE-2024-0000")
    # findings ordered by severity
    sec = html.split("按严重程度排列的发现", 1)[1]
    assert sec.index("CRED-001-1") < sec.index("SECRET-001-1") < sec.index("SVC-001-1") < sec.index("INFO-001-1")
    for needle in ("European Union", "欧盟", "38%", "0%", "Not ready: 4 provisions not met", "未就绪：4 条不符合", "Not met", "不符合", "需补充证据", "不适用",
                   "部分符合", "class=\"unc\"", "<svg", "pkg:deb/debian/curl@7.88.1-10+deb12u15?arch=amd64",
                   "2026-11-20T02:00:00Z", result.image.sha256, "0x2d00000", "firmpass 0.1.0",
                   "AWS 访问密钥与 MQTT 密码以明文保存", "Remove telnetd"):
        assert needle in html, needle
    # every verdict kind and the uncertainty note are shown
    assert "本地日志是否算作监控尚有解释空间" in html


def test_lang_en_and_zh(result, assessment, profile):
    en = render_html(result, assessment, profile, lang="en")
    zh = render_html(result, assessment, profile, lang="zh")
    assert "Default password for root in /etc/shadow" in en and "root 账户使用默认密码" not in en
    assert "执行摘要" not in en and "Executive summary" in en
    assert "root 账户使用默认密码" in zh and "Default password for root in /etc/shadow" not in zh
    assert "执行摘要" in zh and "Executive summary" not in zh


def test_assessment_absent_is_said(result, profile):
    html = render_html(result, None, profile)
    assert "The assessment is absent" in html and "缺少评估结果" in html
    assert "CRED-001-1" in html  # findings still there


def test_pdf_caps_long_tables(result, assessment, profile):
    base = result.vulnerabilities[0]
    result.vulnerabilities = [base.model_copy(update={"id": f"CVE-2099-{i:05d}"}) for i in range(200)]
    html = render_html(result, assessment, profile, caps=Caps.for_pdf())
    cap = Caps.for_pdf().vulns
    assert html.count("CVE-2099-") == cap
    assert f"另有 {200 - cap} 行未在此显示" in html and f"{200 - cap} more rows are not shown here" in html
    assert "vulnerabilities.csv" in html  # where the whole list is


def test_pdf_leaves_long_tables_to_html_and_csv(result, assessment, profile):
    """The PDF names every finding and every verdict but leaves the component table, the container chain
    and each finding's evidence table to report.html (and the CSVs), saying so in both languages."""
    base = result.findings[0]
    result.findings += [base.model_copy(update={"id": f"EXTRA-{i:02d}", "severity": "low",
                                                "title": Text(en=f"Extra finding {i}", zh=f"额外发现 {i}")})
                        for i in range(20)]
    pdf_html = render_html(result, assessment, profile, caps=Caps.for_pdf())
    full_html = render_html(result, assessment, profile)
    for f in result.findings:  # complete: details for the first ones, one line with both titles for the rest
        assert f.id in pdf_html and f.id in full_html
        assert f.title.en in pdf_html and f.title.zh in pdf_html
    assert "其余 {} 项发现".format(len(result.findings) - Caps.for_pdf().findings) in pdf_html
    purls = [c.purl for c in result.components if c.purl]
    assert purls and all(p in full_html for p in purls) and not any(p in pdf_html for p in purls)
    assert f"{len(result.components)} rows: the full table is in report.html and components.csv" in pdf_html
    assert f"共 {len(result.components)} 行：完整表格见本 PDF 同目录下的 report.html 和 components.csv" in pdf_html
    chain = result.image.container_chain
    assert f"{len(chain)} rows: the full table is in report.html next to this PDF" in pdf_html
    assert pdf_html.count("<table") < full_html.count("<table")
    assert "components.csv" in pdf_html and "vulnerabilities.csv" in pdf_html  # the scope line on page 1
    ev = [f for f in result.findings if f.evidence][0]
    assert ev.evidence[0].path in pdf_html  # the first evidence path of a finding stays, as one line


def test_components_and_vulnerabilities_csv(tmp_path, result, assessment, profile):
    """OUT/components.csv and OUT/vulnerabilities.csv: one row per component / vulnerability (the report's
    order: exploited first), Excel-readable UTF-8, a cell that a spreadsheet would run as a formula quoted."""
    import csv

    from firmpass.context import ScanContext
    from firmpass.report.view import vuln_key

    result.components[0] = result.components[0].model_copy(update={"name": "=HYPERLINK(\"http://x\")"})
    ctx = ScanContext(image=Path("/nonexistent"), out=tmp_path, result=result, options=ScanOptions(pdf=False, lang="both"))
    ctx.assessment, ctx.profile = assessment, profile
    report_run(ctx)
    assert ctx.result.tool.stages["report"]["tables"] == ["components.csv", "vulnerabilities.csv"]
    raw = (tmp_path / "components.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    comps = list(csv.DictReader((tmp_path / "components.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert len(comps) == len(result.components)
    assert {c["purl"] for c in comps} == {c.purl or "" for c in result.components}
    assert "'=HYPERLINK(\"http://x\")" in [c["name"] for c in comps]
    vulns = list(csv.DictReader((tmp_path / "vulnerabilities.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [v["id"] for v in vulns] == [v.id for v in sorted(result.vulnerabilities, key=vuln_key)]
    for row in vulns:
        v = next(x for x in result.vulnerabilities if x.id == row["id"])
        assert row["component"] == v.component_name and row["vex_state"] == v.vex.state
        assert bool(row["exploited"]) == bool(v.exploitation())


@needs_poppler
def test_pdf_text_holds_chinese_titles_and_page_numbers(rendered, result):
    pdf = rendered / "report.pdf"
    text = pdftotext(pdf)
    flat = re.sub(r"\s+", "", text)
    for f in result.findings:
        assert re.sub(r"\s+", "", f.title.zh) in flat, f.title.zh
        assert re.sub(r"\s+", "", f.title.en) in flat, f.title.en
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+", info), "A4"
    page_texts = text.split("\f")[:pages]
    assert len(page_texts) == pages
    for i, pt in enumerate(page_texts, 1):
        assert re.search(rf"(?<!\d){i}\s*/\s*{pages}(?!\d)", pt), f"page {i} has no number"
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    # the CJK font: the cached WenQuanYi subset under the CSS's family name (report/fontcache.py),
    # or the system WenQuanYi Micro Hei when there is no cache
    assert "+FP-Sans " in fonts or "WenQuanYi" in fonts


def words_off_page(pdf: Path, margin: float = 20.0) -> list[str]:
    """Words whose box leaves the printable page (pdftotext -bbox gives every word's box)."""
    xml = pdftotext(pdf, "-bbox")
    bad = []
    for page in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', xml, re.S):
        w, h = float(page.group(1)), float(page.group(2))
        for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page.group(3)):
            x0, y0, x1, y1 = map(float, m.groups()[:4])
            if x0 < margin or x1 > w - margin or y1 > h:
                bad.append(m.group(5))
    return bad


@needs_poppler
def test_nothing_runs_off_the_page(rendered):
    assert words_off_page(rendered / "report.pdf") == []


@needs_poppler
def test_no_pdf_option_skips_pdf_only(tmp_path, result, assessment, profile):
    from firmpass.context import ScanContext
    from firmpass.evidence import run as evidence_run

    ctx = ScanContext(image=Path("/nonexistent"), out=tmp_path, result=result, options=ScanOptions(pdf=False, lang="en"))
    ctx.assessment, ctx.profile = assessment, profile
    (tmp_path / "report.pdf").write_bytes(b"%PDF stale from an earlier run")
    report_run(ctx)
    evidence_run(ctx)
    assert (tmp_path / "report.html").is_file() and not (tmp_path / "report.pdf").exists()
    assert (tmp_path / "evidence.zip").is_file() and (tmp_path / "evidence" / "security.txt").is_file()
    assert ctx.result.tool.stages["report"]["files"] == ["report.html"]
    assert (tmp_path / "components.csv").is_file() and (tmp_path / "vulnerabilities.csv").is_file()


def test_pdf_made_beside_the_evidence_and_hashed_after(tmp_path, result, assessment, profile):
    """The report stage starts report.pdf in a child process; the evidence stage waits for it before
    it hashes the reports, so the Annex VII draft names the PDF that is on disk."""
    import hashlib

    from firmpass.context import ScanContext
    from firmpass.pipeline import run_stages

    ctx = ScanContext(image=Path("/nonexistent"), out=tmp_path, result=result, options=ScanOptions(lang="both"))
    ctx.assessment, ctx.profile = assessment, profile
    run_stages(ctx, ["report", "evidence"])
    info = ctx.result.tool.stages["report"]
    assert info["status"] == "ok" and info["files"] == ["report.html", "report.pdf"], info
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and info["pdf_pages"] >= 2 and info["pdf_cpu"] > 0 and info["pdf_seconds"] > 0
    digest = hashlib.sha256(pdf).hexdigest()
    assert digest in (tmp_path / "evidence" / "cra-annex-vii-technical-documentation.md").read_text(encoding="utf-8")
    assert not list(tmp_path.glob("*.tmp")), "the child's input and output were left in OUT"


def test_failed_pdf_is_a_warning_and_keeps_everything_else(tmp_path, result, assessment, profile):
    """A PDF that cannot be written (here its temporary file's name is taken by a directory) costs the
    PDF only: one bilingual warning, the stage still ok, report.html and the evidence package written."""
    from firmpass.context import ScanContext
    from firmpass.pipeline import run_stages

    (tmp_path / "report.pdf.tmp").mkdir()
    ctx = ScanContext(image=Path("/nonexistent"), out=tmp_path, result=result, options=ScanOptions(lang="both"))
    ctx.assessment, ctx.profile = assessment, profile
    run_stages(ctx, ["report", "evidence"])
    info = ctx.result.tool.stages["report"]
    assert info["status"] == "ok" and info["files"] == ["report.html"] and info["pdf_error"], info
    warn = [w for w in ctx.result.warnings if w.code == "pdf_failed"]
    assert len(warn) == 1 and "report.pdf" in warn[0].message.en and "report.pdf" in warn[0].message.zh
    assert not (tmp_path / "report.pdf").exists()
    assert (tmp_path / "report.html").is_file() and (tmp_path / "evidence.zip").is_file()
    assert ctx.result.tool.stages["evidence"]["status"] == "ok"


@pytest.mark.corpus
@needs_poppler
def test_corpus_tree_long_real_paths_wrap(corpus, tmp_path):
    """A real corpus rootfs (files only): findings on the longest real paths, the report and evidence
    stages run through ScanContext; the PDF keeps every word on the page and the paths in full."""
    import hashlib

    from firmpass.model import Finding, Text
    from firmpass.pipeline import run_stages
    from tests.treectx import context_from_tree

    ctx = context_from_tree(corpus / "rootfs", tmp_path / "out")
    files = sorted(ctx.iter_files(), key=lambda f: -len(f.path))[:6]
    assert len(ctx.result.files) > 100 and len(files[0].path) > 60
    for i, fe in enumerate(files):
        data = ctx.read(fe)
        ctx.result.findings.append(Finding(
            id=f"TEST-{i}", check="TEST", severity=["critical", "high", "medium", "low", "info", "high"][i],
            title=Text(en=f"Long path {i}", zh=f"长路径 {i}"), description=Text(en="d", zh="说明"),
            remediation=Text(en="r", zh="修复"),
            evidence=[Evidence(path=fe.path + "/" + "x" * 90, container=fe.container, line=1,
                               excerpt=data[:60].hex(), sha256=hashlib.sha256(data).hexdigest())]))
    run_stages(ctx, ["report", "evidence"])  # through the pipeline: both stage packages are found and run
    assert ctx.result.tool.stages["report"]["status"] == "ok", ctx.result.tool.stages
    assert ctx.result.tool.stages["evidence"]["status"] == "ok", ctx.result.tool.stages
    assert (ctx.out / "findings.json").is_file() and (ctx.out / "evidence.zip").is_file()
    pdf = ctx.out / "report.pdf"
    assert words_off_page(pdf) == []
    # pdftotext drops a hyphen that ends a line (it dehyphenates), so compare without hyphens
    flat = re.sub(r"\s+", "", pdftotext(pdf)).replace("-", "")
    for fe in files:
        assert (fe.path + "/" + "x" * 90).replace("-", "") in flat
    assert str(len(ctx.result.files)) in flat  # the file count is summarised, the list is not printed
    # the file list itself is not printed: a real path that no finding names does not appear
    other = next(f.path for f in ctx.result.files if f.type == "file" and f not in files and len(f.path) > 30)
    assert other.replace("-", "") not in flat
    assert "The assessment is absent" in (ctx.out / "report.html").read_text(encoding="utf-8")


def test_malformed_assessment_does_not_crash(result, profile):
    junk = {"summary": {"eu": "x", "uk": {"score": "abc", "counts": {"met": "many"}}}, "verdicts": ["x", 3, {"ref": "cra:X",
            "framework": "cra", "verdict": "weird", "title": 5}], "frameworks": [None, {"id": "cra"}], "questions": "no"}
    html = render_html(result, junk, profile)
    assert "cra:X" in html or "X" in html
    from firmpass.evidence import write_evidence
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        from pathlib import Path as P
        write_evidence(P(d), result, junk, profile)
        assert (P(d) / "evidence.zip").is_file()


def test_rerender_from_saved_scan(tmp_path, profile):
    """pipeline.load_context(OUT) + run_stages(ctx, ["report", "evidence"]): what `firmpass assess OUT`
    runs after a new assessment (the profile is the one the assessment recorded)."""
    import json
    import shutil

    import yaml

    from firmpass.context import ScanOptions
    from firmpass.pipeline import load_context, run_stages
    from tests.report.conftest import FX

    shutil.copy(FX / "findings.json", tmp_path)
    a = json.loads((FX / "assessment.json").read_text(encoding="utf-8"))
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(profile), encoding="utf-8")
    a["profile"]["path"] = str(tmp_path / "p.yaml")
    (tmp_path / "assessment.json").write_text(json.dumps(a), encoding="utf-8")
    ctx = run_stages(load_context(tmp_path, ScanOptions(pdf=False)), ["report", "evidence"])
    assert ctx.result.tool.stages["report"]["files"] == ["report.html"]
    assert "ACME Home Router" in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "ACME Networks" in (tmp_path / "evidence" / "eu-declaration-of-conformity.md").read_text(encoding="utf-8")
    assert len((tmp_path / "evidence" / "remediation-plan.csv").read_text(encoding="utf-8-sig").splitlines()) == 10


def test_with_the_real_assessment_engine(tmp_path):
    """The assess stage's own assessment.json (all verdict kinds, ~250 verdicts) renders, and the PDF
    details only the most pressing open verdicts while listing every other one by id."""
    import shutil

    from firmpass.context import ScanOptions
    from firmpass.pipeline import load_context, run_stages
    from tests.report.conftest import FX

    shutil.copy(FX / "findings.json", tmp_path)
    ctx = load_context(tmp_path, ScanOptions(markets=None, profile_path=FX / "profile.yaml"))
    data = run_stages(ctx, ["assess"], fatal={"assess"}).assessment
    assert len(data["verdicts"]) > 100
    from firmpass.model import ScanResult
    from firmpass.report.view import build_view

    result = ScanResult.model_validate_json((FX / "findings.json").read_text(encoding="utf-8"))
    full = build_view(result, data, None, Caps())
    assert len(full["provisions"]) == len(data["verdicts"])
    compact = build_view(result, data, None, Caps.for_pdf())
    listed = sum(len(ids) for fw in compact["closed"].values() for ids in fw.values())
    assert len(compact["provisions"]) + listed == len(data["verdicts"])
    assert all(p["verdict"] not in ("met", "not_applicable") for p in compact["provisions"])
    html = render_html(result, data, None, caps=Caps.for_pdf())
    for v in data["verdicts"]:
        assert v["id"] in html


def test_empty_vuln_db_and_pie_denominator(result, assessment, profile):
    result.extra["vuln_db"] = {"path": "x", "sources": {}, "empty": True}
    result.extra["hardening"] = {"elf_count": 100, "executables": 20, "pie": 18, "nx": 100}
    html = render_html(result, assessment, profile)
    assert html.count("a count of 0 says nothing") == 2  # summary and data-sources section
    assert "18/20" in html and "100/100" in html


def test_euvd_exploited_and_vendor_rating_shown(result, assessment, profile):
    """An ENISA EUVD exploited mark orders and counts like a KEV listing; a CVE without CVSS shows the
    vendor's own rating and its CWE."""
    from firmpass.model import Vulnerability, VexStatement
    from firmpass.report.view import build_view

    result.vulnerabilities.append(Vulnerability(
        id="CVE-2025-3675", component="pkg:generic/a3700r", component_name="A3700R", severity="low",
        exploited=[{"source": "euvd", "since": "2025-04-09", "ref": "EUVD-2025-11154"}], vex=VexStatement()))
    result.vulnerabilities.append(Vulnerability(
        id="CVE-2013-0249", component="pkg:generic/curl", component_name="curl", component_version="7.26.0",
        severity="critical", severity_basis="vendor", vendor_severity=[{"source": "curl", "severity": "critical"}],
        cwes=[{"id": "CWE-121", "name": "Stack-based Buffer Overflow"}], vex=VexStatement()))
    html = render_html(result, assessment, profile)
    # both exploited ones (KEV high, EUVD low) come before every other, critical ones included
    assert html.index("CVE-2014-0160") < html.index("CVE-2025-3675") < html.index("CVE-2023-38545")
    assert html.index("CVE-2025-3675") < html.index("CVE-2013-0249")
    row = html[html.index("CVE-2025-3675"):]
    row = row[:row.index("</tr>")]
    assert "ENISA EUVD" in row and "2025-04-09" in row
    row = html[html.index("CVE-2013-0249"):]
    row = row[:row.index("</tr>")]
    assert "CWE-121 Stack-based Buffer Overflow" in row and "vendor rating" in row and "厂商评级" in row and ": curl" in row
    kev_row = html[html.index("CVE-2014-0160"):]
    assert "CISA KEV" in kev_row[:kev_row.index("</tr>")]  # a findings.json with `kev` only still shows it
    assert build_view(result, assessment, profile, Caps())["kev_count"] == 2  # KEV + EUVD
    assert "Exploited (KEV, EUVD)" in html


def _svc_evidence_cell(html: str) -> str:
    """The evidence table of finding SVC-001-1 (up to the next finding)."""
    part = html.split('<span class="mono">SVC-001-1</span>', 1)[1]
    return part.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_old_findings_json_with_string_details_loads_and_renders(result, assessment, profile):
    """tests/fixtures/report/findings.json predates bilingual details: they are plain strings there."""
    import json

    from firmpass.model import Text
    from tests.report.conftest import FX

    raw = json.loads((FX / "findings.json").read_text(encoding="utf-8"))
    raw_svc = next(f for f in raw["findings"] if f["id"] == "SVC-001-1")
    assert raw_svc["evidence"][0]["detail"] == "init script"
    svc = next(f for f in result.findings if f.id == "SVC-001-1")
    assert svc.evidence[0].detail == Text(en="init script", zh="init script")
    # the same text in both languages is shown once, in every language mode
    for lang in ("both", "en", "zh"):
        cell = _svc_evidence_cell(render_html(result, assessment, profile, lang=lang))
        assert cell.count("init script") == 1, lang
    # saved again, it is the new shape
    again = json.loads(result.to_json())
    assert next(f for f in again["findings"] if f["id"] == "SVC-001-1")["evidence"][0]["detail"] == \
        {"en": "init script", "zh": "init script"}


def test_evidence_detail_follows_the_language_mode(result, assessment, profile):
    from firmpass.model import Text

    svc = next(f for f in result.findings if f.id == "SVC-001-1")
    svc.evidence[0].detail = Text(en="started via inittab", zh="由 /etc/inittab 启动")
    both = _svc_evidence_cell(render_html(result, assessment, profile, lang="both"))
    en = _svc_evidence_cell(render_html(result, assessment, profile, lang="en"))
    zh = _svc_evidence_cell(render_html(result, assessment, profile, lang="zh"))
    assert "started via inittab" in both and "由 /etc/inittab 启动" in both
    assert "started via inittab" in en and "由 /etc/inittab 启动" not in en
    assert "由 /etc/inittab 启动" in zh and "started via inittab" not in zh
