"""The report's first page and the evidence documents on real scans of corpus images (real Debian
binaries made into firmware), through the real CLI, with the two product profiles in tests/fixtures:
a strong one (profile-full.yaml, on firmware.bin) and a weak one (profile-poor.yaml, on the dpkg
root filesystem, whose Debian revisions the tracker data rules on)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.report.conftest import needs_poppler, pdftotext
from tests.clitool import cli as shared_cli
from tests.clitool import fixture_store_env

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SEVERITY_WORDS = ("critical", "high", "medium", "low", "info")


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return shared_cli(*args, env=env, timeout=900)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return fixture_store_env(tmp_path_factory)


@pytest.fixture(scope="module")
def full(corpus, env, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "out"
    r = cli("scan", str(corpus / "firmware.bin"), "-o", str(out), "--profile", str(FIXTURES / "profile-full.yaml"), env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def poor(corpus, env, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("poor") / "out"
    r = cli("scan", str(corpus / "rootfs-dpkg.sqfs"), "-o", str(out), "--profile", str(FIXTURES / "profile-poor.yaml"),
            "--no-pdf", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def profile(name: str) -> dict:
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))


def flat(s: str) -> str:
    return re.sub(r"\s+", "", s)


def decision_text_html(out: Path) -> str:
    html = (out / "report.html").read_text(encoding="utf-8")
    part = html[html.index('id="decision"'):html.index("<h2>", html.index('id="decision"'))]
    return re.sub(r"<[^>]+>", " ", part).replace("&#39;", "'").replace("&amp;", "&")


def check_first_page(text: str, out: Path) -> None:
    """Can we ship to each market, and what first: in English and in Chinese."""
    t = flat(text)
    for needle in ("Canweship,andwhatfirst?", "能否出货？先改什么？", "Fixfirst", "优先整改"):
        assert needle in t, needle
    a = json.loads((out / "assessment.json").read_text())
    for m, en, zh in (("eu", "EuropeanUnion", "欧盟"), ("uk", "UnitedKingdom", "英国"), ("us", "UnitedStates", "美国"),
                      ("cn", "China", "中国")):
        if m in a["markets"]:
            assert en in t and zh in t, m
    # a decision per market, in both languages
    decisions = re.findall(r"(SHIPAFTERFIXES|BLOCKED|SHIP)(整改后出货|禁止出货|可以出货)", t)
    assert len(decisions) == len(a["markets"]), decisions
    pairs = {"SHIP": "可以出货", "SHIPAFTERFIXES": "整改后出货", "BLOCKED": "禁止出货"}
    assert all(pairs[en] == zh for en, zh in decisions)
    # the rule, its legal status and date per market
    for needle in ("2026-09-11", "2027-12-11", "2024-04-29", "Voluntary", "自愿性", "customers'classifiedsystems",
                   "约束客户的定级系统", "《网络韧性法案》", "网络安全等级保护2.0"):
        assert needle in t, needle
    if profile_of(a).get("product", {}).get("radio_equipment"):
        assert "2025-08-01" in t and "EN18031" in t
    # CRA class, route and notified-body flag; Art. 14 readiness
    assert "CRAclass:important,ClassI" in t and "CRA类别：重要产品第一类" in t
    assert "notifiedbodyrequired" in t and "需要公告机构" in t
    assert "Art.14reporting:" in t and "第14条报告：" in t
    # five root causes, in both languages, each with what it closes
    from firmpass.present.decision import build_decision
    from firmpass.present.load import load_result

    d = build_decision(load_result(out), a, profile_of(a))
    assert len(d["fix_first"]) == 5
    nohyph = t.replace("-", "")  # pdftotext joins a word broken at a hyphen without it
    for rc in d["fix_first"]:
        assert flat(rc["title"].en)[:30].replace("-", "") in nohyph, rc["key"]
        assert flat(rc["title"].zh)[:12].replace("-", "") in nohyph, rc["key"]
    # deduplicated: one root cause closes several provisions, and no provision is in two root causes
    refs = [r for rc in d["root_causes"] for r in rc["refs"]]
    assert len(refs) == len(set(refs)) and max(rc["n"] for rc in d["root_causes"]) > 1


def profile_of(a: dict) -> dict:
    return yaml.safe_load(Path(a["profile"]["abs_path"]).read_text(encoding="utf-8"))


@needs_poppler
def test_pdf_first_page_answers_ship_and_what_first(full):
    check_first_page(pdftotext(full / "report.pdf", "-f", "1", "-l", "1"), full)


def test_html_decision_answers_ship_and_what_first(full, poor):
    for out in (full, poor):
        check_first_page(decision_text_html(out), out)


def test_markets_decided_by_law_in_force(full, poor):
    from firmpass.present.decision import build_decision
    from firmpass.present.load import load_assessment, load_result

    for out, prof in ((full, "profile-full.yaml"), (poor, "profile-poor.yaml")):
        a = load_assessment(out)
        d = {m["id"]: m for m in build_decision(load_result(out), a, profile(prof))["markets"]}
        assert d["us"]["state"] == "ship" and d["cn"]["state"] == "ship"  # voluntary mark; operator's duty
        # the corpus image ships telnetd, a root default password and an empty-password account: PSTI
        # (in force) has mandatory provisions not met, so the UK is blocked with either profile
        assert d["uk"]["state"] == "blocked" and d["uk"]["rules"][0]["not_met"] >= 1
        # the RED delegated act (in force since 2025-08-01) applies to this radio product
        red = next(r for r in d["eu"]["rules"] if r["id"] == "red")
        assert red["in_force"] and d["eu"]["state"] == "blocked"
        cra = next(r for r in d["eu"]["rules"] if r["id"] == "cra")
        assert not cra["in_force"] and cra["state"] == "fix"  # main obligations from 2027-12-11: not yet a bar


def test_chinese_rows_carry_no_english_values(full, poor):
    from firmpass.i18n.terms import avoided

    for out in (full, poor):
        a = json.loads((out / "assessment.json").read_text())
        for v in a["verdicts"]:
            for key in ("reason", "next_step"):
                zh = (v.get(key) or {}).get("zh") or ""
                assert not re.search(r"（(%s)）" % "|".join(SEVERITY_WORDS), zh), (v["ref"], zh)
                assert not re.search(r"= (yes|no|True|False|true|false)\b", zh), (v["ref"], zh)
                assert "消除差距" not in zh
        for q in a["questions"]:
            assert "declarations." not in q["question"]["zh"] and "declarations." not in q["question"]["en"]
        html = (out / "report.html").read_text(encoding="utf-8")
        docs = "".join(p.read_text(encoding="utf-8") for p in (out / "evidence").glob("*.md"))
        for bad in avoided():
            assert bad not in html and bad not in docs, bad
        assert "《网络韧性法案》" in html and "《网络韧性法案》" in docs


def test_open_questions_are_questions(poor):
    from firmpass.report import render_html
    from firmpass.present.load import load_assessment, load_result
    from firmpass.report.view import Caps, build_view

    v = build_view(load_result(poor), load_assessment(poor), profile("profile-poor.yaml"), Caps())
    assert len(v["questions"]) > 10
    for q in v["questions"]:
        assert q["question"].en.endswith("?") and q["question"].zh.endswith(("？", "?")), q
    assert render_html  # the same view renders the table


def test_documents_take_every_number_from_the_profile(full, poor):
    p = profile("profile-full.yaml")
    vd, sp = p["vulnerability_disclosure"], p["support"]
    ev = full / "evidence"
    cvd = (ev / "cvd-policy.md").read_text(encoding="utf-8")
    assert f"within **{vd['acknowledgement_days']} days**" in cvd and f"**{vd['acknowledgement_days']} 天**" in cvd
    assert f"every **{vd['status_update_days']} days**" in cvd
    assert f"within **{vd['remediation_days_target']} days**" in cvd and "90 days" not in cvd
    sup = (ev / "support-period.md").read_text(encoding="utf-8")
    assert f"available for {sp['updates_kept_available_years']} years" in sup
    assert "shown where the product is offered for sale" in sup  # profile: shown_at_purchase true
    assert p["manufacturer"]["name_zh"] in sup and p["manufacturer"]["name_zh"] in cvd
    annex = (ev / "cra-annex-vii-technical-documentation.md").read_text(encoding="utf-8")
    section5 = annex[annex.index("## 5."):annex.index("## 6.")]
    listed = re.findall(r"^- (.+?)(?: —|$)", section5, re.M)
    assert listed == [s["standard"] for s in p["standards_applied"]]
    for regulation in ("Cyber Resilience Act", "PSTI", "NIST IR 8425", "MLPS", "2024/2847"):
        assert regulation not in section5
    red = (ev / "red-declaration-of-conformity.md").read_text(encoding="utf-8")
    assert "EN 18031-1:2024" in red and "EN 18031-3 (Art. 3(3)(f)): not relevant per the profile" in red

    # the weak profile answers none of these: the documents leave marked blanks, never a default
    ev = poor / "evidence"
    cvd = (ev / "cvd-policy.md").read_text(encoding="utf-8")
    assert "[GAP: days (profile vulnerability_disclosure.acknowledgement_days)]" in cvd
    assert "[GAP: days (profile vulnerability_disclosure.remediation_days_target)]" in cvd
    commitments = cvd[cvd.index("### 3. What we commit to"):cvd.index("### 4.")]
    assert not re.search(r"\d+ days", commitments)  # (the 24 h / 72 h / 14 days in section 4 are the law's)
    sup = (ev / "support-period.md").read_text(encoding="utf-8")
    assert "offered for sale" not in sup and "ten years after its release" not in sup
    assert "[GAP: whether the end date is shown at the point of sale" in sup
    assert "[GAP: how long each security update stays available" in sup
    annex = (ev / "cra-annex-vii-technical-documentation.md").read_text(encoding="utf-8")
    assert "[GAP: state which harmonised standards" in annex[annex.index("## 5."):annex.index("## 6.")]


def test_changed_profile_numbers_reach_the_documents(poor, tmp_path):
    """The issue's case: the profile says 7 days to acknowledge and 180 to fix; the documents say so."""
    from firmpass.evidence import write_evidence
    from firmpass.present.load import load_assessment, load_result

    p = profile("profile-poor.yaml")
    p["vulnerability_disclosure"] = {"contact_email": "psirt@acme.example", "acknowledgement_days": 7,
                                     "status_update_days": 21, "remediation_days_target": 180}
    p["support"]["updates_kept_available_years"] = 8
    shutil.copytree(poor, tmp_path / "o", ignore=shutil.ignore_patterns("unpacked"))
    out = tmp_path / "o"
    write_evidence(out, load_result(out), load_assessment(out), p)
    cvd = (out / "evidence" / "cvd-policy.md").read_text(encoding="utf-8")
    assert "within **7 days**" in cvd and "**7 天**" in cvd and "within **180 days**" in cvd and "every **21 days**" in cvd
    assert "5 working days" not in cvd and "90 days" not in cvd
    sup = (out / "evidence" / "support-period.md").read_text(encoding="utf-8")
    assert "available for 8 years after its release **[GAP: Article 13(9) requires at least ten years" in sup
    psti = (out / "evidence" / "psti-statement-of-compliance.md").read_text(encoding="utf-8")
    assert "acknowledgement within / 确认时限 7 days" in psti


def test_doc_route_follows_the_derived_class(full, poor):
    for out in (full, poor):
        a = json.loads((out / "assessment.json").read_text())
        assert a["classification"]["derived"] == "important-I"
        doc = (out / "evidence" / "eu-declaration-of-conformity.md").read_text(encoding="utf-8")
        point7 = doc[doc.index("7. **"):doc.index("8. **")]
        # Class I and no standard harmonised under the CRA applied in full: module B+C or H, a notified body
        assert "module B" in point7 and "module H" in point7 and "公告机构" in point7
        assert "internal control (module A) is not available" in point7
        assert "not required" not in point7
    psti = (poor / "evidence" / "psti-statement-of-compliance.md").read_text(encoding="utf-8")
    assert "[GAP: firmpass finds these PSTI requirements not met" in psti and "PSTI-S1-1" in psti


def test_csaf_is_a_draft_with_consistent_status(full, poor):
    from firmpass.vulns.vex import validate_csaf

    for out in (full, poor):
        doc = json.loads((out / "evidence" / "vex.csaf.json").read_text())
        assert validate_csaf(doc) == []
        assert doc["document"]["tracking"]["status"] == "draft"
        for v in doc.get("vulnerabilities", []):
            for r in v.get("remediations", []):
                if r["category"] == "none_available":
                    assert not r["details"].startswith("Update"), r
                if r["details"].startswith("Update"):
                    assert r["category"] == "vendor_fix"
    # the Debian revision installed in the dpkg image carries the fix for CVE-2023-38545 (tracker data):
    # fixed, not affected; the other curl CVEs have no tracker ruling for this revision: under investigation
    doc = json.loads((poor / "evidence" / "vex.csaf.json").read_text())
    by_cve = {v["cve"]: v for v in doc["vulnerabilities"]}
    assert set(by_cve["CVE-2023-38545"]["product_status"]) == {"fixed"}
    others = [v for c, v in by_cve.items() if c != "CVE-2023-38545"]
    assert others and all(set(v["product_status"]) == {"under_investigation"} for v in others)
    assert all(any("Debian package" in n["text"] for n in v["notes"] if n["category"] == "details") for v in others)
    # firmware.bin's curl is a plain binary with an exact version in a vendor advisory range: decisive
    doc = json.loads((full / "evidence" / "vex.csaf.json").read_text())
    v = next(v for v in doc["vulnerabilities"] if v["cve"] == "CVE-2023-38545")
    assert set(v["product_status"]) == {"known_affected"}
    assert {r["category"] for r in v["remediations"]} == {"vendor_fix"}
    assert any("later than 8.3.0" in r["details"] for r in v["remediations"])


def test_finding_citations_follow_the_chosen_etsi_version(full):
    """The report cites each finding's provisions as the assessment maps them to the chosen EN 303 645
    version (5.6-4 in V2 is 5.6-4A in V3), not as the check catalogue happens to number them."""
    from firmpass.model import ScanResult
    from firmpass.report.view import Caps, build_view

    a = json.loads((full / "assessment.json").read_text())
    res = ScanResult.model_validate_json((full / "findings.json").read_text())
    cited = a["citations"]["findings"]
    view = build_view(res, a, None, Caps())
    version = a["citations"]["en303645_version"]
    from firmpass.assess.engine import etsi_cite

    for f in view["findings"]:
        assert f["provisions"] == cited[f["id"]]
        for ref in f["provisions"]:
            assert etsi_cite(ref, version) == ref  # every cited ETSI provision exists in that version
