"""End to end through the real CLI: `firmpass scan` on corpus images with a profile and a local
vulnerability store made from the test fixtures writes the whole public contract."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.clitool import cli as shared_cli
from tests.clitool import fixture_store_env

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
FRAMEWORKS = {"en303645", "cra", "en18031", "psti", "nistir8425", "mlps"}


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return shared_cli(*args, env=env, timeout=900)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return fixture_store_env(tmp_path_factory)


@pytest.fixture(scope="module")
def scanned(corpus, env, tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "out"
    r = cli("scan", str(corpus / "firmware.bin"), "-o", str(out), "--profile", str(FIXTURES / "profile-full.yaml"),
            "--market", "eu,uk,us,cn", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_contract_files(scanned):
    for name in ("findings.json", "sbom.cdx.json", "sbom.spdx.json", "assessment.json", "report.html", "report.pdf"):
        assert (scanned / name).is_file() and (scanned / name).stat().st_size > 0, name
    ev = scanned / "evidence"
    for name in ("sbom.cdx.json", "sbom.spdx.json", "vex.csaf.json", "vex.cdx.json", "security.txt",
                 "remediation-plan.csv", "MANIFEST.sha256"):
        assert (ev / name).is_file(), name


def test_findings_contract(scanned, ground_truth):
    data = json.loads((scanned / "findings.json").read_text())
    for section in ("image", "files", "components", "vulnerabilities", "findings"):
        assert section in data
    img = data["image"]
    assert img["sha256"] == ground_truth["images"]["firmware.bin"]["sha256"]
    assert img["size"] == ground_truth["images"]["firmware.bin"]["size"]
    formats = {c["format"] for c in img["container_chain"]}
    assert {"squashfs", "jffs2", "uimage", "fit"} <= formats, formats
    # true modes survive every container: /etc/shadow is 0600 in all three rootfs copies
    shadow = [f for f in data["files"] if f["path"] == "/etc/shadow"]
    assert len(shadow) == 3 and all(f["mode"] == 0o600 for f in shadow)
    for f in data["findings"]:
        for key in ("id", "check", "severity", "title", "description", "remediation", "evidence", "provisions"):
            assert key in f, key
        for key in ("title", "description", "remediation"):
            assert f[key]["en"] and f[key]["zh"]
        assert f["evidence"] and all(e["path"] for e in f["evidence"])
        for ref in f["provisions"]:
            fw, _, pid = ref.partition(":")
            assert fw in FRAMEWORKS and pid, ref
    checks = {f["check"] for f in data["findings"]}
    assert {"CRED-001", "SVC-001", "LOG-001"} <= checks or len(checks) >= 10
    versions = {c["name"]: c["version"] for c in data["components"] if c.get("version")}
    for pkg in ("busybox", "openssl", "lighttpd", "dnsmasq", "curl"):
        assert pkg in versions, pkg
    assert versions["busybox"] == "1.35.0" and versions["lighttpd"] == "1.4.69"
    # the curl fixture records (curl's own table) apply to 7.88.1, and they reached the CycloneDX SBOM
    curl_cves = {v["id"] for v in data["vulnerabilities"] if v["component_name"] == "curl"}
    assert "CVE-2023-38545" in curl_cves
    cdx = json.loads((scanned / "sbom.cdx.json").read_text())
    assert "CVE-2023-38545" in {v["id"] for v in cdx.get("vulnerabilities", [])}


def test_evidence_details_bilingual_in_findings_json_and_report(scanned):
    """The whole pipeline on firmware.bin (planted defects, boot images, identified components): each
    evidence detail in findings.json is {"en", "zh"} with a real Chinese text, and the report shows both."""
    from tests.evidence_text import untranslated_details

    data = json.loads((scanned / "findings.json").read_text())
    details = [(f["check"], e["detail"]) for f in data["findings"] for e in f["evidence"] if e["detail"] is not None]
    assert len({c for c, _ in details}) >= 10 and {"SVC-001", "BOOT-001", "LOG-001"} <= {c for c, _ in details}
    assert untranslated_details(data["findings"]) == []
    html = (scanned / "report.html").read_text(encoding="utf-8")
    _, d = next((c, d) for c, d in details if c == "SVC-001")
    assert d["zh"] in html and d["en"] in html


def test_assessment_covers_markets(scanned):
    a = json.loads((scanned / "assessment.json").read_text())
    assert set(a["summary"]) == {"eu", "uk", "us", "cn"}
    refs = {v["ref"] for v in a["verdicts"]}
    assert "en303645:5.1-1" in refs
    v51 = next(v for v in a["verdicts"] if v["ref"] == "en303645:5.1-1")
    assert v51["verdict"] == "not_met" and v51["findings"]  # planted default passwords, cited


def test_debian_revision_rules_out_fixed_cve(corpus, env, tmp_path):
    """curl 7.88.1 carries CVE-2023-38545 upstream; Debian's 7.88.1-10+deb12u15 has the fix, so on the
    image with a dpkg database it is not_affected, naming the fixing revision; without one it stays."""
    out = tmp_path / "dpkg"
    r = cli("scan", str(corpus / "rootfs-dpkg.sqfs"), "-o", str(out), "--no-pdf", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    vulns = json.loads((out / "findings.json").read_text())["vulnerabilities"]
    hits = [v for v in vulns if v["id"] == "CVE-2023-38545" and v["component_name"] == "curl"]
    assert hits
    for v in hits:
        assert v["vex"]["state"] == "not_affected", v["vex"]
        assert "7.88.1-10+deb12u5" in json.dumps(v["vex"])


def test_single_binary_is_scanned_as_one_file(corpus, env, tmp_path):
    """A bare ELF (Debian's curl binary from the corpus) is not a firmware image, but a user who gives
    one gets it identified and checked as /curl, with a warning saying so, and none of the
    system-level 'missing' findings (no updater, no local logs, no integrity) that need a whole image."""
    out = tmp_path / "out"
    r = cli("scan", str(corpus / "rootfs" / "usr" / "bin" / "curl"), "-o", str(out), "--no-pdf", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((out / "findings.json").read_text())
    assert [f["path"] for f in data["files"]] == ["/curl"] and data["files"][0]["elf"]
    curl = [c for c in data["components"] if c["name"] == "curl"]
    assert curl and curl[0]["version"] == data_version(corpus, "curl")
    assert "CVE-2023-38545" in {v["id"] for v in data["vulnerabilities"]}  # no package DB: nothing rules it out
    assert not {f["check"] for f in data["findings"]} & {"UPD-001", "LOG-002", "BOOT-005"}
    assert any(w["code"] == "single_binary" and "/curl" in w["message"]["zh"] for w in data["warnings"])
    r = cli("scan", str(FIXTURES / "profile-full.yaml"), "-o", str(tmp_path / "o2"), env=env)
    assert r.returncode == 2 and "not a firmware image" in r.stderr  # text that is neither stays unusable


def data_version(corpus, pkg):
    """Upstream version of a corpus package from its Debian version (epoch and revision removed)."""
    import re

    gt = json.loads((corpus / "ground_truth.json").read_text())
    v = next(p["version"] for p in gt["packages"] if p["package"] == pkg)
    return re.sub(r"-[^-]+$", "", v.split(":", 1)[-1])
