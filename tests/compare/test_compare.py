"""`firmpass compare`: two real scans of the corpus router image, before and after the store learned
that curl 7.88.1 has CVE-2023-38545 and that it is exploited; an image of /etc only against the full
router image (components, findings and verdicts that differ for real)."""
from __future__ import annotations

import json

import pytest

from firmpass.compare import compare_components, compare_dirs
from tests.batch.scenario import CVE, FIX, cli, scan, store_learns_curl, store_without_curl

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def scans(tmp_path_factory, corpus):
    w = tmp_path_factory.mktemp("compare")
    db = store_without_curl(w)
    a = scan(corpus / "rootfs-gzip.sqfs", w / "a", db, "--profile", str(FIX / "profile-full.yaml"))
    etc = scan(corpus / "etc.tar.gz", w / "etc", db)
    store_learns_curl(w, db)
    b = scan(corpus / "rootfs-gzip.sqfs", w / "b", db, "--profile", str(FIX / "profile-full.yaml"))
    return {"a": a, "b": b, "etc": etc, "db": db}


def test_vulnerabilities_introduced_and_fixed(scans):
    d = compare_dirs(scans["a"], scans["b"])
    intro = [v for v in d["vulnerabilities"]["introduced"] if v["id"] == CVE]
    assert {v["component"] for v in intro} == {"curl", "libcurl"}
    assert all(v["exploited"] and v["version"] == "7.88.1" for v in intro)
    assert d["vulnerabilities"]["introduced"][0]["exploited"]  # exploited ones first
    assert d["counts"]["exploited_introduced"] >= 2 and d["vulnerabilities"]["fixed"] == []
    assert d["counts"]["components_added"] == d["counts"]["components_removed"] == 0  # the same image
    assert d["b"]["product"] == "ACME R1000 Wi-Fi Router" and d["b"]["version"] == "1.0.0"
    # the exploited vulnerability changes the CRA verdict on known exploitable vulnerabilities for the worse
    worse = {c["ref"] for c in d["verdicts"]["changed"] if c["direction"] == "worse"}
    back = compare_dirs(scans["b"], scans["a"])
    fixed = [v for v in back["vulnerabilities"]["fixed"] if v["id"] == CVE]
    assert len(fixed) == 2 and all(v["why"]["en"] == "no longer matched by the store" for v in fixed)
    assert {c["ref"] for c in back["verdicts"]["changed"] if c["direction"] == "better"} == worse


def test_components_findings_and_verdicts_between_different_images(scans):
    d = compare_dirs(scans["etc"], scans["a"])
    names = {c["name"] for c in d["components"]["added"]}
    assert {"busybox", "curl", "openssl", "dropbear_ssh"} <= names and d["components"]["removed"] == []
    intro = {f["check"] for f in d["findings"]["introduced"]}
    assert "SVC-007" in intro  # the CGI command injection lives in /www, which the /etc image lacks
    assert d["findings"]["unchanged"] > 0  # the planted /etc defects are in both
    assert any(c["ref"] == "nistir8425:8425-AI-2" and c["to"] == "met" for c in d["verdicts"]["changed"])
    rev = compare_dirs(scans["a"], scans["etc"])
    assert {c["name"] for c in rev["components"]["removed"]} == names
    assert {f["check"] for f in rev["findings"]["fixed"]} == intro


def test_version_order_of_a_component_list(scans):
    """A second firmware version's component list: curl upgraded, zlib downgraded, dropbear gone,
    a new component; versions ordered as firmware ships them (1.2.13 -> 1.2.9 is a downgrade)."""
    a = json.loads((scans["a"] / "findings.json").read_text())["components"]
    b = [dict(c) for c in a if c["name"] != "dropbear_ssh"]
    for c in b:
        if c["name"] in ("curl", "libcurl"):
            c["version"] = "8.4.0"
        if c["name"] == "zlib":
            c["version"] = "1.2.9"
    b.append({"name": "mosquitto", "version": "2.0.18", "type": "application"})
    d = compare_components(a, b)
    assert [(c["name"], c["from"], c["to"]) for c in d["upgraded"]] == [("curl", ["7.88.1"], ["8.4.0"]),
                                                                        ("libcurl", ["7.88.1"], ["8.4.0"])]
    assert [(c["name"], c["to"]) for c in d["downgraded"]] == [("zlib", ["1.2.9"])]
    assert [c["name"] for c in d["removed"]] == ["dropbear_ssh"] and [c["name"] for c in d["added"]] == ["mosquitto"]


def test_cli_bilingual_text_and_json(scans, tmp_path):
    r = cli("compare", str(scans["a"]), str(scans["b"]))
    assert r.returncode == 0, r.stderr
    assert f"introduced: {CVE} curl 7.88.1 [exploited]" in r.stdout
    assert f"新引入：{CVE} curl 7.88.1 [已被利用]" in r.stdout
    assert "Vulnerabilities:" in r.stdout and "漏洞：" in r.stdout and "欧盟" in r.stdout
    j = tmp_path / "diff.json"
    r = cli("compare", str(scans["a"]), str(scans["b"]), "--json", "-o", str(j))
    assert r.returncode == 0 and json.loads(r.stdout) == json.loads(j.read_text())
    r = cli("compare", str(scans["a"]), str(tmp_path))
    assert r.returncode == 2 and "not the output directory of a scan" in r.stderr and "不是扫描输出目录" in r.stderr


def test_a_vex_statement_shows_as_fixed_with_its_reason(scans, tmp_path, corpus):
    """The product team rules the exploited CVE out for this firmware (OpenVEX on the components' own
    PURLs from the SBOM); the rescan compared with the one before lists it fixed, saying why."""
    fb = json.loads((scans["b"] / "findings.json").read_text())
    purls = sorted({c["purl"] for c in fb["components"] if c["name"] in ("curl", "libcurl") and c.get("purl")})
    assert purls
    vex = tmp_path / "triage.openvex.json"
    vex.write_text(json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://acme.test/vex/1", "author": "ACME PSIRT",
        "timestamp": "2026-01-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": CVE}, "products": [{"@id": p} for p in purls],
                        "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}))
    c = scan(corpus / "rootfs-gzip.sqfs", tmp_path / "c", scans["db"], "--vex", str(vex),
             "--profile", str(FIX / "profile-full.yaml"))
    d = compare_dirs(scans["b"], c)
    fixed = [v for v in d["vulnerabilities"]["fixed"] if v["id"] == CVE]
    assert {v["component"] for v in fixed} == {"curl", "libcurl"}
    assert all(v["why"] == {"en": "ruled out by VEX (not_affected)", "zh": "已被 VEX 排除（not_affected）"} for v in fixed)
    assert not [v for v in d["vulnerabilities"]["introduced"] if v["id"] == CVE]
