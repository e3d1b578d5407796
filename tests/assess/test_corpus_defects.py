"""The planted defects of the real corpus (ground_truth.json) as the real checks stage reports them
(tests/assess/conftest.py scans firmware.bin), assessed with the poor and the full profile: every planted
defect is found at its path, and every provision its findings name fails whatever the profile claims."""
from pathlib import Path

import pytest

from firmpass.assess.engine import assess, direct_refs
from firmpass.profile import load_profile

FIX = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def planted(real_scans, ground_truth):
    r = real_scans["firmware.bin"].result()
    by_path: dict[str, list] = {}
    for f in r.findings:
        for e in f.evidence:
            by_path.setdefault(e.path, []).append(f)
    return r, {(d["type"], d["path"]): by_path.get(d["path"], []) for d in ground_truth["planted"]}


def test_every_planted_defect_has_a_real_finding(planted):
    r, hits = planted
    missing = [k for k, fs in hits.items() if not fs]
    assert not missing, missing
    # each finding carries evidence with a path and names provisions in framework:id form
    for f in r.findings:
        assert f.evidence and f.evidence[0].path and f.provisions
        assert all(":" in p for p in f.provisions), f.id


@pytest.mark.parametrize("profile", ["profile-poor.yaml", "profile-full.yaml"])
def test_planted_defects_fail_the_provisions_they_name(planted, profile):
    r, hits = planted
    a = assess(r, load_profile(FIX / profile))
    v = {x["ref"]: x for x in a["verdicts"]}
    checked = 0
    for fs in hits.values():
        for f in fs:
            if f.severity not in ("critical", "high", "medium"):
                continue
            for p in f.provisions:
                if p not in v or v[p]["verdict"] == "not_applicable":
                    continue  # not in this EN 303 645 version / out of the product's scope
                assert v[p]["verdict"] == "not_met" and f.id in v[p]["findings"], (profile, f.id, p, v[p]["verdict"])
                checked += 1
    assert checked > 50


def test_planted_defects_with_poor_profile(planted):
    r, _ = planted
    a = assess(r, load_profile(FIX / "profile-poor.yaml"), markets=["eu", "uk"])
    v = {x["ref"]: x for x in a["verdicts"]}
    for ref, cite in [("en303645:5.1-1", "CRED-001-1"), ("psti:PSTI-S1-1", "CRED-002-1"),
                      ("en303645:5.4-3", "KEY-004-1"), ("en303645:5.6-4A", "SVC-003-1"),
                      ("en303645:5.13-1B", "SVC-007-1"), ("cra:AnnexI.PartI.2.d", "CRED-001-1"),
                      ("cra:AnnexI.PartI.2.j", "SVC-001-1"), ("en18031:AUM-5-1", "CRED-001-1")]:
        assert v[ref]["verdict"] == "not_met" and cite in v[ref]["findings"], ref
    for ref in ("en303645:5.2-1", "psti:PSTI-S1-2", "cra:AnnexI.PartII.6", "cra:Art13.8"):
        assert v[ref]["verdict"] == "not_met" and v[ref]["profile_answers"], ref


def test_full_profile_does_not_hide_firmware_defects(planted):
    r, _ = planted
    a = assess(r, load_profile(FIX / "profile-full.yaml"))
    v = {x["ref"]: x for x in a["verdicts"]}
    assert v["en303645:5.1-1"]["verdict"] == "not_met"  # the profile claims unique passwords; the firmware disagrees
    assert v["psti:PSTI-S1-2"]["verdict"] == "met" and v["cra:Art13.8"]["verdict"] == "met"
    assert v["psti:PSTI-S1-2"]["declared"]  # profile answers only: marked as such
    assert a["summary"]["uk"]["counts"]["not_met"] >= 5
    for x in a["verdicts"]:  # no met against a finding that names the provision
        if x["verdict"] == "met":
            assert not [f.id for f in r.findings if direct_refs(x["ref"]) & set(f.provisions)], x["ref"]
