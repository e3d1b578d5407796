"""`firmpass watch`: a real corpus scan made with a store that lacks a CVE, then the store learns the
CVE (curl's own advisory record) and that it is exploited (a KEV entry dated yesterday, standing in
for CISA adding it); the watch must report it new and exploited, open an Art. 14 clock from the
moment it first saw the evidence, write the drafts and a CSAF advisory that validates, and keep
first_seen on the next run."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from firmpass.vulns.vex import validate_csaf
from tests.batch.scenario import kev_with_new_entry
from tests.clitool import cli as shared_cli

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
CVE = "CVE-2023-38545"  # curl SOCKS5 heap overflow: affects the corpus's real curl 7.88.1

pytestmark = pytest.mark.corpus


def cli(*args: str) -> subprocess.CompletedProcess:
    return shared_cli(*args, env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})


@pytest.fixture(scope="module")
def watched(tmp_path_factory, corpus):
    """A scan with a store that lacks curl's records, then the store updated (curl records + KEV)."""
    w = tmp_path_factory.mktemp("watch")
    base = w / "base"
    base.mkdir()
    for f in (FIX / "vulns").iterdir():
        if f.name != "curl_vuln.json":
            shutil.copy(f, base / f.name)
    db = w / "store.db"
    assert cli("db", "import", str(base), "--db", str(db)).returncode == 0
    out = w / "out"
    r = cli("scan", str(corpus / "rootfs-gzip.sqfs"), "-o", str(out), "--db", str(db), "--no-pdf",
            "--profile", str(FIX / "profile-full.yaml"))
    assert r.returncode == 0, r.stderr
    assert not [v for v in json.loads((out / "findings.json").read_text())["vulnerabilities"] if v["id"] == CVE]
    r = cli("db", "import", str(FIX / "vulns" / "curl_vuln.json"), str(kev_with_new_entry(w / "kev-new.json")),
            "--db", str(db))
    assert r.returncode == 0, r.stderr
    first = cli("watch", str(out), "--db", str(db), "--fail-on", "exploited")
    doc1 = json.loads((out / "watch.json").read_text())
    second = cli("watch", str(out), "--db", str(db), "--fail-on", "exploited")
    doc2 = json.loads((out / "watch.json").read_text())
    return {"dir": w, "db": db, "out": out, "first": first, "second": second, "doc1": doc1, "doc2": doc2}


def test_new_exploited_vulnerability_opens_an_art14_clock(watched):
    r, doc = watched["first"], watched["doc1"]
    assert r.returncode == 1, r.stderr  # --fail-on exploited: a newly exploited vulnerability
    assert "Traceback" not in r.stderr and "newly" in r.stdout and "新增" in r.stdout
    new = [n for n in doc["new"] if n["id"] == CVE]
    assert {n["component"] for n in new} == {"curl", "libcurl"}
    assert all(n["version"] == "7.88.1" and n["exploited"]["kev"] and n["severity"] == "high" for n in new)
    assert {n["id"] for n in doc["newly_exploited"]} == {CVE}
    (a14,) = [a for a in doc["art14"] if a["id"] == CVE]
    seen = dt.datetime.fromisoformat(new[0]["first_seen"])
    assert a14["aware_basis"] == "firmpass_first_seen"
    assert dt.datetime.fromisoformat(a14["early_warning_due"]) == seen.replace(second=0) + dt.timedelta(hours=24)
    assert dt.datetime.fromisoformat(a14["notification_due"]) == seen.replace(second=0) + dt.timedelta(hours=72)
    assert a14["status"] == "early_warning_due" and a14["final_report_due"] is None and not a14["overdue"]


def test_drafts_and_csaf_advisory(watched):
    out = watched["out"]
    d = out / "art14" / CVE
    for name in ("early-warning.md", "early-warning.json", "notification.md", "notification.json", "user-notification.md"):
        assert (d / name).is_file(), name
    assert not (d / "final-report.md").exists()  # no corrective measure recorded in the profile for it
    ew = (d / "early-warning.md").read_text()
    assert "Art. 14(2)(a)" in ew and "第 14 条" in ew and "ACME Networks" in ew and "curl 7.88.1" in ew
    assert "[to be completed by the manufacturer]" in ew and "【待制造商填写】" in ew  # member states: not in the profile
    note = json.loads((d / "notification.json").read_text())
    assert note["draft"] is True and note["vulnerability"] == CVE and note["firmware_version"] == "1.0.0"
    (adv,) = list((out / "advisories").glob("*.json"))
    doc = json.loads(adv.read_text())
    assert validate_csaf(doc) == []
    assert doc["document"]["category"] == "csaf_security_advisory" and doc["document"]["tracking"]["status"] == "draft"
    (v,) = doc["vulnerabilities"]
    assert v["cve"] == CVE and v["product_status"]["known_affected"]
    assert [r["category"] for r in v["remediations"]] == ["none_available"]
    assert any(t["category"] == "exploit_status" and "CISA KEV" in t["details"] for t in v["threats"])


def test_second_watch_lists_nothing_new_and_keeps_first_seen(watched):
    r, d1, d2 = watched["second"], watched["doc1"], watched["doc2"]
    assert r.returncode == 0, r.stderr
    assert d2["new"] == [] and d2["newly_exploited"] == [] and d2["resolved"] == []
    key = f"{CVE}@curl@7.88.1"
    assert d2["history"][key]["first_seen"] == d1["history"][key]["first_seen"]
    assert [a["early_warning_due"] for a in d2["art14"]] == [a["early_warning_due"] for a in d1["art14"]]


def test_profile_awareness_and_fix_close_the_clock_properly(watched, tmp_path):
    """An earlier awareness recorded in the profile starts the clock; a corrective measure makes the final
    report due 14 days after it, and the final-report draft appears; a VEX statement the user made for
    this product (given to the scan) still rules a vulnerability out."""
    out = tmp_path / "out"
    out.mkdir()
    for f in ("findings.json", "assessment.json"):
        shutil.copy(watched["out"] / f, out / f)
    prof = yaml.safe_load((FIX / "profile-full.yaml").read_text())
    prof["incidents"] = [{"kind": "vulnerability", "id": CVE, "aware": "2026-11-01T08:00:00+00:00",
                          "corrective_measure_available": "2026-11-20T08:00:00+00:00",
                          "notification_sent": "2026-11-03T08:00:00+00:00"}]
    prof["eu_member_states"] = ["DE", "FR"]
    pp = tmp_path / "profile.yaml"
    pp.write_text(yaml.safe_dump(prof, allow_unicode=True))
    assert cli("assess", str(out), "--profile", str(pp), "--market", "eu").returncode == 0
    res = json.loads((out / "findings.json").read_text())
    res["vulnerabilities"].append({"id": "CVE-2023-27533", "component": "curl@7.88.1", "component_name": "curl",
                                   "component_version": "7.88.1",
                                   "vex": {"state": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
                                           "source": "vendor-vex.json"}})
    (out / "findings.json").write_text(json.dumps(res))
    r = cli("watch", str(out), "--db", str(watched["db"]))
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "watch.json").read_text())
    (a14,) = [a for a in doc["art14"] if a["id"] == CVE]
    assert a14["aware_basis"] == "profile" and a14["aware"].startswith("2026-11-01T08:00")
    assert a14["status"] == "final_report_due" and a14["final_report_due"].startswith("2026-12-04T08:00")
    assert a14["overdue"] is True  # 2026-12-04 has passed by the time this suite runs
    fr = (out / "art14" / CVE / "final-report.md").read_text()
    assert "Art. 14(2)(c)" in fr and "DE, FR" not in fr  # member states belong to the early warning
    assert "DE, FR" in (out / "art14" / CVE / "early-warning.md").read_text()
    assert not [n for n in doc["new"] if n["id"] == "CVE-2023-27533" and n["component"] == "curl"]
    assert all(not (n["id"] == "CVE-2023-27533" and n["component_ref"] == "curl@7.88.1") for n in doc["new"])
    (adv,) = list((out / "advisories").glob("*.json"))
    v = json.loads(adv.read_text())["vulnerabilities"][0]
    assert [r["category"] for r in v["remediations"]] == ["vendor_fix"]


def test_portfolio_table_json_and_page(watched, tmp_path):
    pf = tmp_path / "pf"
    prof = yaml.safe_load((FIX / "profile-full.yaml").read_text())
    soon = (dt.date.today() + dt.timedelta(days=100)).isoformat()
    prof["support"]["end_date"] = soon
    pp = tmp_path / "ending.yaml"
    pp.write_text(yaml.safe_dump(prof, allow_unicode=True))
    for rel in ("router/1.0.0", "router/0.9.0", "camera/2.1"):
        d = pf / rel
        d.mkdir(parents=True)
        for f in ("findings.json", "assessment.json"):
            shutil.copy(watched["out"] / f, d / f)
    assert cli("assess", str(pf / "camera/2.1"), "--profile", str(pp)).returncode == 0
    (pf / "router/1.0.0" / "unpacked").mkdir()  # a scan's own folders are never walked
    r = cli("watch", "--portfolio", str(pf), "--db", str(watched["db"]))
    assert r.returncode == 0, r.stderr
    data = json.loads((pf / "portfolio.json").read_text())
    assert data["totals"]["scans"] == 3 and data["totals"]["products"] == 2
    assert data["totals"]["exploited"] == 3 and data["totals"]["clocks"] == 3 and data["totals"]["support_attention"] == 1
    cam = next(p for p in data["products"] if p["name"] == "camera")
    assert cam["versions"][0]["support"]["state"] == "ending" and soon in cam["versions"][0]["support"]["text"]["zh"]
    html = (pf / "portfolio.html").read_text()
    assert "Portfolio watch" in html and "产品组合监测" in html and CVE in html and "Content-Security-Policy" in html
    assert "router" in r.stdout and "2.1" in r.stdout


def test_bad_input_is_one_line(tmp_path, watched):
    r = cli("watch", str(tmp_path), "--db", str(watched["db"]))
    assert r.returncode == 2 and "findings.json" in r.stderr and "Traceback" not in r.stderr
    r = cli("watch", "--portfolio", str(tmp_path), "--db", str(watched["db"]))
    assert r.returncode == 2 and "findings.json" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("watch", str(watched["out"]), "--db", str(watched["db"]), "--fail-on", "sometimes")
    assert r.returncode == 2 and "--fail-on" in r.stderr
    r = cli("watch")
    assert r.returncode == 2 and "--portfolio" in r.stderr


def test_damaged_previous_watch_does_not_stop_the_watch(watched, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for f in ("findings.json", "assessment.json"):
        shutil.copy(watched["out"] / f, out / f)
    (out / "watch.json").write_text(json.dumps({"history": {f"{CVE}@curl@7.88.1": {"first_seen": "yesterday-ish",
                                                                                  "exploited_seen": 5, "open": "yes"},
                                                           "junk": [1, 2]}}))
    r = cli("watch", str(out), "--db", str(watched["db"]))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    doc = json.loads((out / "watch.json").read_text())
    (a14,) = [a for a in doc["art14"] if a["id"] == CVE]
    assert dt.datetime.fromisoformat(a14["aware"]) <= dt.datetime.now(dt.timezone.utc)
    (out / "watch.json").write_text("[not json")
    r = cli("watch", str(out), "--db", str(watched["db"]))
    assert r.returncode == 0 and "cannot be read" in r.stderr and "无法读取" in r.stderr
