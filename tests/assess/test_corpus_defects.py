"""The planted defects of the real corpus (ground_truth.json) as the checks stage reports them, with
evidence from the corpus tree (real paths and file hashes), assessed with the poor and the full profile."""
import hashlib
from pathlib import Path

import pytest

from firmpass.assess.engine import assess
from firmpass.model import Component, Evidence, Finding, ImageInfo, ScanResult, Text, ToolInfo
from firmpass.profile import load_profile

FIX = Path(__file__).resolve().parents[1] / "fixtures"
# planted defect type -> (check id, severity, provisions) - the way the checks helper tags findings
KIND = {
    "default_password": ("CRED-001", "critical", ["en303645:5.1-1", "psti:PSTI-S1-1"]),
    "empty_password": ("CRED-002", "critical", ["en303645:5.1-1", "psti:PSTI-S1-1"]),
    "extra_uid0": ("ACCT-001", "medium", ["en303645:5.6-7"]),
    "serial_console_getty": ("DBG-001", "medium", ["en303645:5.6-4A"]),
    "telnetd_enabled": ("SVC-001", "high", ["en303645:5.6-1", "en303645:5.6-5"]),
    "ssh_server": ("SVC-002", "info", ["en303645:5.6-5"]),
    "remote_syslog": ("LOG-001", "info", ["en303645:5.10-1"]),
    "private_key": ("KEY-001", "high", ["en303645:5.4-3", "en303645:5.4-4"]),
    "hardcoded_secret": ("SECRET-001", "high", ["en303645:5.4-3"]),
    "plaintext_credentials": ("CRED-003", "high", ["en303645:5.4-1"]),
    "web_server_as_root": ("PRIV-001", "medium", ["en303645:5.6-7"]),
    "upnp_insecure": ("SVC-003", "medium", ["en303645:5.6-2", "en303645:5.5-5"]),
    "command_injection_cgi": ("WEB-001", "high", ["en303645:5.13-1B"]),
}


@pytest.fixture(scope="module")
def corpus_result(ground_truth, corpus):
    root = corpus / "rootfs"
    r = ScanResult(tool=ToolInfo(version="test"),
                   image=ImageInfo(path=str(corpus / "firmware.bin"), name="firmware.bin", sha256="0" * 64, size=1))
    r.components = [Component(bom_ref=f"pkg:deb/debian/{p['package']}@{p['version']}", name=p["package"],
                              version=p["version"]) for p in ground_truth["packages"]]
    counts: dict[str, int] = {}
    for d in ground_truth["planted"]:
        check, sev, provs = KIND[d["type"]]
        counts[check] = counts.get(check, 0) + 1
        f = root / d["path"].lstrip("/")
        sha = hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else None
        r.findings.append(Finding(id=f"{check}-{counts[check]}", check=check, severity=sev,
                                  title=Text(en=f"{d['type']} in {d['path']}", zh=f"{d['path']} 中存在 {d['type']}"),
                                  description=Text(en=d["type"], zh=d["type"]),
                                  remediation=Text(en=f"Fix {d['path']}", zh=f"修正 {d['path']}"),
                                  evidence=[Evidence(path=d["path"], sha256=sha)], provisions=provs))
    r.extra["checks_run"] = sorted({c for c, _, _ in KIND.values()})
    return r


def test_planted_defects_with_poor_profile(corpus_result):
    assert len(corpus_result.findings) == 19 and len(corpus_result.components) > 5
    a = assess(corpus_result, load_profile(FIX / "profile-poor.yaml"), markets=["eu", "uk"])
    v = {x["ref"]: x for x in a["verdicts"]}
    for ref, cite in [("en303645:5.1-1", "CRED-001-1"), ("psti:PSTI-S1-1", "CRED-002-1"),
                      ("en303645:5.4-3", "KEY-001-1"), ("en303645:5.6-4A", "DBG-001-1"),
                      ("en303645:5.13-1B", "WEB-001-1"), ("cra:AnnexI.PartI.2.d", "CRED-001-1"),
                      ("cra:AnnexI.PartI.2.j", "SVC-001-1"), ("en18031:AUM-5-1", "CRED-001-1")]:
        assert v[ref]["verdict"] == "not_met" and cite in v[ref]["findings"], ref
    for ref in ("en303645:5.2-1", "psti:PSTI-S1-2", "cra:AnnexI.PartII.6", "cra:Art13.8"):
        assert v[ref]["verdict"] == "not_met" and v[ref]["profile_answers"], ref
    # info findings are cited but do not fail a provision
    assert "LOG-001-1" in v["en303645:5.10-1"]["findings"] and v["en303645:5.10-1"]["verdict"] != "not_met"


def test_full_profile_does_not_hide_firmware_defects(corpus_result):
    a = assess(corpus_result, load_profile(FIX / "profile-full.yaml"))
    v = {x["ref"]: x for x in a["verdicts"]}
    assert v["en303645:5.1-1"]["verdict"] == "not_met"  # the profile claims unique passwords; the firmware disagrees
    assert v["psti:PSTI-S1-2"]["verdict"] == "met" and v["cra:Art13.8"]["verdict"] == "met"
    assert a["summary"]["uk"]["counts"]["not_met"] >= 5
