"""One deadline across every stage (issue 14, point 2): identify, vulns and checks check the scan's
deadline cooperatively (ScanContext.checkpoint, in their loops and on every file read), so --timeout
bounds them too.  A stage the deadline reaches part-way is a warning with stage status 'stopped', the
stages after it that compute are skipped, and everything computed before is still written.

The deadline is made to pass exactly when a stage starts, through the pipeline's own on_stage hook
(called after the pipeline's skip check, just before the stage runs): the stage itself must notice."""
from __future__ import annotations

import io
import json
import tarfile
import time

import pytest

from firmpass.context import Limits, ScanOptions
from firmpass.errors import DeadlineReached
from firmpass.pipeline import new_context, run_stages, STAGES
from tests.clitool import fixture_store_env

COMPUTE = ["identify", "vulns", "checks", "assess"]


def _image(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    img = tmp_path / "fw.tar"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("etc/passwd", b"root::0:0:root:/root:/bin/sh\n"),
                           ("etc/shadow", b"root::19000:0:99999:7:::\n"),
                           ("etc/inittab", b"::respawn:/usr/sbin/telnetd -F\n"),
                           ("var/lib/dpkg/status", b"Package: busybox\nStatus: install ok installed\n"
                                                   b"Version: 1:1.35.0-4\n\nPackage: curl\nStatus: install ok "
                                                   b"installed\nVersion: 7.88.1-10\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    img.write_bytes(buf.getvalue())
    return img


def _scan_expiring_at(tmp_path, stage, db=None):
    """Scan with the deadline passing the moment `stage` starts."""
    out = tmp_path / "out"
    opts = ScanOptions(pdf=False, progress=False, limits=Limits(max_seconds=3600), db_path=db or tmp_path / "none.db")
    ctx = new_context(_image(tmp_path), out, opts)

    def on_stage(name):
        if name == stage:
            ctx.started = time.monotonic() - opts.limits.max_seconds - 1  # the deadline is now behind us

    run_stages(ctx, STAGES, on_stage=on_stage)
    return ctx, json.loads((out / "findings.json").read_text())


def _check_stopped(d, stage):
    st = d["tool"]["stages"]
    assert st[stage]["status"] == "stopped" and st[stage]["reason"] == "deadline", st
    later = COMPUTE[COMPUTE.index(stage) + 1:]
    assert all(st[s]["status"] == "skipped" for s in later), st
    w = [w for w in d["warnings"] if w["code"] == "deadline" and w["stage"] == stage]
    assert len(w) == 1 and "stopped part-way" in w[0]["message"]["en"] and "--timeout" in w[0]["message"]["en"]
    assert "中途停止" in w[0]["message"]["zh"]
    assert any(f["path"] == "/etc/passwd" for f in d["files"])  # unpack's work is written


def test_identify_stops_at_the_deadline_and_the_rest_is_written(tmp_path):
    ctx, d = _scan_expiring_at(tmp_path, "identify")
    _check_stopped(d, "identify")
    for name in ("sbom.cdx.json", "sbom.spdx.json", "report.html"):
        assert (ctx.out / name).is_file(), name


def test_checks_stop_at_the_deadline_components_kept(tmp_path):
    ctx, d = _scan_expiring_at(tmp_path, "checks")
    _check_stopped(d, "checks")
    # identify ran in full before the deadline: its components are in findings.json and the SBOM
    names = {c["name"] for c in d["components"]}
    assert {"busybox", "curl"} <= names, names
    assert {c["name"] for c in json.loads((ctx.out / "sbom.cdx.json").read_text())["components"]} >= {"busybox"}
    assert d["extra"]["checks_run"] == []  # nothing is claimed as checked
    assert not any(f["check"] == "CRED-001" for f in d["findings"])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return fixture_store_env(tmp_path_factory)["FIRMPASS_DB"]


def test_vulns_stop_at_the_deadline(tmp_path, store):
    # the same image with the deadline far away matches curl 7.88.1 against the fixture store
    full, dfull = _scan_expiring_at(tmp_path / "a", "none", db=store)
    assert dfull["tool"]["stages"]["vulns"]["status"] == "ok"
    assert any(v["component_name"] == "curl" for v in dfull["vulnerabilities"])
    ctx, d = _scan_expiring_at(tmp_path / "b", "vulns", db=store)
    _check_stopped(d, "vulns")
    assert d["vulnerabilities"] == []  # stopped before the first match: none claimed
    assert d["components"]  # identify's work is kept


def test_checkpoint_only_bounds_the_computing_stages(tmp_path):
    ctx, _ = _scan_expiring_at(tmp_path, "identify")
    # after the scan the deadline is long past, but no stage is running: reading a file still works
    ent = next(f for f in ctx.result.files if f.path == "/etc/passwd")
    assert ctx.read(ent).startswith(b"root::")
    ctx.bounded_stage = "checks"
    with pytest.raises(DeadlineReached):
        ctx.read(ent)
