"""The vendor add-on of the corpus (build-vendor.sh) and the real router rootfs in ../shared, through
the whole pipeline: every planted defect found where the ground truth says, no secret finding on
libraries, web-UI text or name-service files, and the precision of the secret check measured."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmpass import pipeline
from firmpass.context import ScanOptions

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
PH0WN = SHARED / "data" / "firmware" / "ph0wn-r0-rootfs-mipsel.tar.bz2"
STAGES = ["unpack", "inventory", "checks"]


@pytest.fixture(scope="module")
def vendor(corpus, tmp_path_factory):
    truth = json.loads((corpus / "vendor.json").read_text())["vendor-rootfs.tar.gz"]
    ctx = pipeline.scan(corpus / "vendor-rootfs.tar.gz", tmp_path_factory.mktemp("vendor") / "out", ScanOptions(),
                        stages=STAGES)
    return truth, ctx.result


def test_every_planted_defect_found(vendor):
    truth, result = vendor
    for p in truth["planted"]:
        fs = [f for f in result.findings if f.check == p["check"] and any(e.path == p["path"] for e in f.evidence)]
        assert fs, p
        if "users" in p:
            assert {f.data["user"] for f in fs} == set(p["users"])
        if "user" in p:
            assert [f.data["user"] for f in fs] == [p["user"]]
        if "line" in p:
            assert fs[0].evidence[0].line == p["line"], p
        if p["type"] == "backdoor_login":
            f = fs[0]
            assert f.data["password_file"] == p["password_file"] and f.data["known_backdoor"]
            chain = [f"{e.path}:{e.line}" for e in f.evidence[1:-1]]
            assert chain == p["chain"]
        if p["type"] == "account_file_mode":
            assert fs[0].data["mode"].endswith("rwxrwxrwx") or p["mode"] in json.dumps(fs[0].data)
        if p["type"] == "verify_off":
            assert fs[0].data["value"] == p["value"]
        if p["type"] == "hardcoded_secret":
            assert fs[0].data["names"] == p["keys"]
    updates = result.extra["checks_updates"]
    for u in truth["update_mechanisms"]:
        assert any(x["updater"] == u["updater"] and u["path"] in x["files"] for x in updates)
    assert "UPD-001" not in {f.check for f in result.findings}


def test_no_false_secrets(vendor):
    truth, result = vendor
    secrets = [f for f in result.findings if f.check == "KEY-004"]
    planted = {p["path"] for p in truth["planted"] if p["check"] == "KEY-004"}
    # precision: every KEY-004 finding is a planted, real secret
    assert {f.evidence[0].path for f in secrets} == planted
    for f in secrets:
        assert not any(e.path in truth["not_secrets"] or "/lib/" in e.path for e in f.evidence)
    blob = json.dumps([f.model_dump() for f in result.findings])
    assert "wrgn49_dlob_dir615" not in blob and "Zq7pR2mW9xTc" not in blob


def test_paths_stay_relative_to_the_image(vendor):
    truth, result = vendor
    file_ev = [e.path for f in result.findings for e in f.evidence if e.path not in ("/",)]
    assert file_ev and all(p.startswith(truth["root"] + "/") for p in file_ev), file_ev


@pytest.mark.skipif(not PH0WN.exists(), reason="../shared/data/firmware (the real router rootfs) is absent")
def test_real_router_rootfs(tmp_path):
    """ph0wn-r0: an OpenWrt-era router root filesystem in a rootfs-mipsel/ folder of the tarball."""
    ctx = pipeline.scan(PH0WN, tmp_path / "out", ScanOptions(), stages=STAGES)
    r = ctx.result
    empty = [f for f in r.findings if f.check == "CRED-001"]
    assert [(f.data["user"], f.evidence[0].path) for f in empty] == [("root", "/rootfs-mipsel/etc/shadow")]
    # dropbear, started by procd from /etc/init.d/dropbear: the start line, not every line naming it
    ssh = [f for f in r.findings if f.check == "SVC-002"]
    assert len(ssh) == 1 and ssh[0].data["daemon"] == "dropbear"
    assert all(e.path == "/rootfs-mipsel/etc/init.d/dropbear" for e in ssh[0].evidence)
    assert len(ssh[0].evidence) <= 2, [e.excerpt for e in ssh[0].evidence]
    assert not [f for f in r.findings if f.check == "KEY-004"]  # the rootfs holds no hard-coded secret
    assert "UPD-001" not in {f.check for f in r.findings}  # sysupgrade
