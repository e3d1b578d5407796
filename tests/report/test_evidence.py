from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from firmpass.evidence import CSV_COLUMNS, OPEN_VERDICTS, write_evidence
from firmpass.evidence.securitytxt import build_security_txt, validate_security_txt

NOW = datetime(2026, 11, 22, 5, 0, tzinfo=timezone.utc)


def test_security_txt_from_profile_validates(profile):
    text = build_security_txt(profile, NOW)
    v = validate_security_txt(text, NOW)
    assert v["valid"], v["errors"]
    assert v["warnings"] == []
    assert v["fields"]["contact"] == ["mailto:security@acme-networks.example", "https://www.acme-networks.example/security/report"]
    assert v["fields"]["preferred-languages"] == ["en, zh"]
    assert v["fields"]["canonical"] == ["https://www.acme-networks.example/.well-known/security.txt"]
    exp = datetime.fromisoformat(v["fields"]["expires"][0].replace("Z", "+00:00"))
    assert NOW < exp <= NOW + timedelta(days=365)


@pytest.mark.parametrize("text, error", [
    ("Expires: 2027-01-01T00:00:00Z\n", "Contact: required"),
    ("Contact: http://example.com/sec\nExpires: 2027-01-01T00:00:00Z\n", "https"),
    ("Contact: security@example.com\nExpires: 2027-01-01T00:00:00Z\n", "not a URI"),
    ("Contact: mailto:a@b.c\n", "Expires: required exactly once"),
    ("Contact: mailto:a@b.c\nExpires: 2027-01-01T00:00:00Z\nExpires: 2027-02-01T00:00:00Z\n", "exactly once, found 2"),
    ("Contact: mailto:a@b.c\nExpires: 2026-01-01T00:00:00Z\n", "in the past"),
    ("Contact: mailto:a@b.c\nExpires: 1 January 2027\n", "RFC 3339"),
    ("Contact: mailto:a@b.c\nExpires: 2027-01-01T00:00:00Z\nPreferred-Languages: en, 中文\n", "not a language tag"),
    ("Contact: mailto:a@b.c\nExpires: 2027-01-01T00:00:00Z\nPolicy: http://example.com/p\n", "https"),
    ("Contact: mailto:a@b.c\nthis line is junk\nExpires: 2027-01-01T00:00:00Z\n", "not a 'Field: value'"),
])
def test_security_txt_validator_catches(text, error):
    v = validate_security_txt(text, NOW)
    assert not v["valid"]
    assert any(error in e for e in v["errors"]), v["errors"]


def test_security_txt_validator_signed_and_far_expiry():
    signed = ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
              "Contact: mailto:a@b.c\nExpires: 2028-06-01T00:00:00Z\n"
              "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n")
    v = validate_security_txt(signed, NOW)
    assert v["valid"] and v["fields"]["contact"] == ["mailto:a@b.c"]
    assert any("more than a year" in w for w in v["warnings"])


def test_security_txt_no_field_injection():
    hostile = {"vulnerability_disclosure": {"contact_email": "a@b.c\nExpires: 1999-01-01T00:00:00Z",
                                            "policy_url": "https://x.example/p\r\nContact: http://evil"}}
    text = build_security_txt(hostile, NOW)
    v = validate_security_txt(text, NOW)
    assert len(v["fields"]["expires"]) == 1 and len(v["fields"]["contact"]) == 1


def test_security_txt_without_profile_is_flagged():
    v = validate_security_txt(build_security_txt(None, NOW), NOW)
    assert not v["valid"] and any("Contact" in e for e in v["errors"])


def _manifest(ev):
    return dict(reversed(line.split("  ", 1)) for line in (ev / "MANIFEST.sha256").read_text().splitlines())


def test_package_files_manifest_zip(tmp_path, result, assessment, profile):
    (tmp_path / "sbom.cdx.json").write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6"}')
    summary = write_evidence(tmp_path, result, assessment, profile, NOW)
    ev = tmp_path / "evidence"
    names = {p.name for p in ev.iterdir()}
    assert {"sbom.cdx.json", "security.txt", "cvd-policy.md", "support-period.md", "remediation-plan.csv",
            "cra-annex-vii-technical-documentation.md", "eu-declaration-of-conformity.md", "validation.json", "README.md",
            "MANIFEST.sha256"} <= names
    man = _manifest(ev)
    assert set(man) == names - {"MANIFEST.sha256", ".firmpass-evidence"}
    for name, digest in man.items():
        assert hashlib.sha256((ev / name).read_bytes()).hexdigest() == digest
    with zipfile.ZipFile(tmp_path / "evidence.zip") as z:
        znames = set(z.namelist())
        assert znames == {f"evidence/{n}" for n in names - {".firmpass-evidence"}}  # the marker stays out of the package
        assert z.read("evidence/MANIFEST.sha256") == (ev / "MANIFEST.sha256").read_bytes()
        for name, digest in man.items():
            assert hashlib.sha256(z.read(f"evidence/{name}")).hexdigest() == digest
    notes = {n["key"] for n in summary["notes"]}
    assert "evidence.note.sbom_absent" in notes  # the SPDX one was not there
    assert summary["validation"]["security.txt"]["valid"]


def test_vex_csaf_validates_or_is_noted(tmp_path, result, assessment, profile):
    summary = write_evidence(tmp_path, result, assessment, profile, NOW)
    try:
        from firmpass.vulns.vex import validate_csaf
    except ImportError:
        assert "evidence.note.vex_absent" in {n["key"] for n in summary["notes"]}
        assert not (tmp_path / "evidence" / "vex.csaf.json").exists()
        return
    doc = json.loads((tmp_path / "evidence" / "vex.csaf.json").read_text())
    assert validate_csaf(doc) == []
    assert summary["validation"]["vex.csaf.json"]["valid"]
    assert json.loads((tmp_path / "evidence" / "vex.cdx.json").read_text())


def test_remediation_plan(tmp_path, result, assessment, profile):
    write_evidence(tmp_path, result, assessment, profile, NOW)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "evidence" / "remediation-plan.csv").read_text(encoding="utf-8-sig"))))
    expected = [v for v in assessment["verdicts"] if v["verdict"] in OPEN_VERDICTS]
    assert len(rows) == len(expected) == 9
    assert list(rows[0]) == CSV_COLUMNS
    assert [int(r["priority"]) for r in rows] == list(range(1, len(rows) + 1))
    # in priority order: the executive summary's root causes first, each one's provisions together
    from firmpass.report.decision import build_decision

    roots = build_decision(result, assessment, profile)["root_causes"]
    keys = [r["root_cause"] for r in rows if r["root_cause"]]
    assert keys and keys[0] == roots[0]["key"]
    assert [k for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]] == [rc["key"] for rc in roots]
    by_ref = {r["ref"]: r for r in rows}
    r = by_ref["en303645:5.1-1"]
    assert r["title_zh"] == "每台设备唯一或由用户设置的密码" and r["findings"] == "CRED-001-1;CRED-002-1"
    assert r["status"] == "open" and r["owner"] and r["due"] == ""  # EN 303 645 itself is not law: no legal date
    cra = by_ref["cra:AnnexI.PartI.2.a"]
    assert cra["due"] == cra["legal_date"] == "2027-12-11" and cra["owner"]
    psti = [r for r in rows if r["framework"] == "psti" and r["provision_status"] == "mandatory"]
    for r in psti:  # PSTI is in force since 2024-04-29: due on the assessment date
        assert r["legal_date"] == "2024-04-29" and r["due"] == assessment["generated"][:10]
    assert "en303645:5.2-1" not in by_ref and "en303645:5.8-3" not in by_ref  # met / not applicable


def test_documents_filled_and_gaps_marked(tmp_path, result, assessment, profile):
    write_evidence(tmp_path, result, assessment, profile, NOW)
    ev = tmp_path / "evidence"
    annex = (ev / "cra-annex-vii-technical-documentation.md").read_text()
    assert "Home Wi-Fi router with cloud management" in annex and result.image.sha256 in annex
    assert "[GAP: attach photographs]" in annex and "[缺失：附上照片]" in annex
    assert "AnnexI.PartI.2.a" in annex and "不符合" in annex
    doc = (ev / "eu-declaration-of-conformity.md").read_text()
    assert "ACME Networks Co., Ltd." in doc and "[GAP: place, date]" in doc and "[缺失：地点、日期]" in doc
    cvd = (ev / "cvd-policy.md").read_text()
    for needle in ("security@acme-networks.example", "single reporting platform", "24 hours", "72 hours", "14 days",
                   "ENISA 统一报告平台", "24 小时", "PSTI", "NIST IR 8425", "Cyber Trust Mark", "网络信任标志"):
        assert needle in cvd, needle
    sup = (ev / "support-period.md").read_text()
    assert "December 2030" in sup and "2030 年 12 月" in sup and "meets this rule" in sup


def test_documents_without_profile_or_assessment(tmp_path, result):
    result.components[0].name = "<script>x</script>|evil"
    summary = write_evidence(tmp_path, result, None, None, NOW)
    ev = tmp_path / "evidence"
    annex = (ev / "cra-annex-vii-technical-documentation.md").read_text()
    assert annex.count("[GAP:") >= 10 and "[缺失：" in annex
    assert "<script>" not in "".join(p.read_text(encoding="utf-8-sig") for p in ev.glob("*.md"))
    plan = (ev / "remediation-plan.csv").read_text(encoding="utf-8-sig").splitlines()
    assert plan == [",".join(CSV_COLUMNS)]
    keys = {n["key"] for n in summary["notes"]}
    assert {"evidence.note.no_profile", "evidence.note.no_assessment"} <= keys
    # without a profile the placeholder security.txt is invalid by construction: recorded, not a second warning
    assert "evidence.note.sectxt_invalid" not in keys and summary["validation"]["security.txt"]["valid"] is False


def test_invalid_security_txt_from_a_profile_is_a_bilingual_note(tmp_path, result, profile):
    profile["vulnerability_disclosure"]["contact_url"] = "http://example.com/security"
    profile["vulnerability_disclosure"].pop("contact_email", None)
    summary = write_evidence(tmp_path, result, None, profile, NOW)
    note = next(n for n in summary["notes"] if n["key"] == "evidence.note.sectxt_invalid")
    assert "https" in note["en"] and "网址必须为 https" in note["zh"] and "must be" not in note["zh"]


def test_short_support_period_is_a_gap(tmp_path, result, profile):
    profile["support"] = {"placed_on_market": "2026-01-01", "end_date": "2028-01-01", "expected_use_years": 6}
    write_evidence(tmp_path, result, None, profile, NOW)
    sup = (tmp_path / "evidence" / "support-period.md").read_text()
    assert "[GAP: the period stated above is shorter than five years" in sup and "[缺失：上述支持期短于五年" in sup


def test_rerun_replaces_stale_files(tmp_path, result, assessment, profile):
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / ".firmpass-evidence").write_text("")  # an earlier run's package (a user's is refused)
    (tmp_path / "evidence" / "stale.txt").write_text("old")
    write_evidence(tmp_path, result, assessment, profile, NOW)
    assert not (tmp_path / "evidence" / "stale.txt").exists()
    assert "stale.txt" not in _manifest(tmp_path / "evidence")


def test_security_txt_problems_in_both_languages():
    v = validate_security_txt("Contact: http://example.com/sec\nExpires: 2001-01-01T00:00:00Z\nBogus: 1\n", NOW)
    assert not v["valid"] and len(v["errors"]) == len(v["errors_zh"]) >= 2
    for zh in v["errors_zh"]:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), zh
    assert any("https" in e for e in v["errors_zh"]) and any("过期" in e for e in v["errors_zh"])
