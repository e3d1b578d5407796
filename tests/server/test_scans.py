"""Scans under the server: an upload through the API becomes a Dask task whose stages are reported
as they run, and a scan left unfinished by a server that stopped is run again when the next server
starts (the stored upload is not lost).  A small corpus archive keeps this quick."""
from __future__ import annotations

import hashlib
import os
import shutil

from fastapi.testclient import TestClient

from firmpass.server.app import Settings, create_app
from firmpass.server.auth import add_user
from firmpass.server.db import Org, Product, Scan, Version

from .conftest import PROFILE, api_user_with_product, login, wait_scan

STAGES = ["unpack", "inventory", "identify", "vulns", "sbom", "checks", "assess", "report", "evidence"]


def test_upload_through_api_runs_on_dask(corpus, tmp_path):
    app = create_app(Settings(data=tmp_path / "data", vulns_db=str(tmp_path / "none.db"), secure_cookies=False))
    srv = app.state.srv
    try:
        api, h, pid = api_user_with_product(app, "Camera")
        image = corpus / "etc.tar.gz"
        with open(image, "rb") as fh:
            r = api.post(f"/api/v1/products/{pid}/versions", files={"file": ("etc.tar.gz", fh)}, data={"label": "0.9"},
                         headers=h)
        assert r.status_code == 201, r.text
        sid = r.json()["scan"]
        doc = wait_scan(lambda: api.get(f"/api/v1/scans/{sid}", headers=h).json())
        assert doc["status"] == "done", doc
        assert [st["stage"] for st in doc["stages"]] == STAGES and all(st["status"] == "ok" for st in doc["stages"])
        assert doc["stages"][0]["counts"]["files"] > 10
        # the upload is kept under its sha256, read-only, and the results are served
        digest = hashlib.sha256(image.read_bytes()).hexdigest()
        kept = tmp_path / "data" / "images" / digest
        assert kept.read_bytes() == image.read_bytes() and oct(kept.stat().st_mode & 0o777) == "0o440"
        res = api.get(f"/api/v1/scans/{sid}/results", headers=h).json()
        import json as _json

        res_started = _json.loads((srv.scan_dir(sid) / "out" / "findings.json").read_text())["tool"]["started"]
        assert res["image"] == digest and res["summary"]
        assert api.get(f"/api/v1/scans/{sid}/download/evidence", headers=h).content[:2] == b"PK"
        assert srv.runner.client.scheduler_info()["workers"]  # it ran on the Dask cluster
        # the profile changes (China only): re-assessed from the saved scan, no rescan
        import json

        out = srv.scan_dir(sid) / "out"
        before = json.loads((out / "assessment.json").read_text())
        assert set(before["summary"]) == {"eu", "cn"}
        with srv.Session() as s:
            pr = s.get(Product, pid)
            pr.profile = {**pr.profile, "markets": ["cn"]}
            s.commit()
        c = TestClient(app)  # not as a context manager: its exit would shut the server (and its cluster) down
        csrf = login(c, "a@a.example", "pw-long-enough")
        vid = r.json()["version"]
        assert c.post(f"/versions/{vid}/reassess", data={"csrf": csrf}).status_code == 200
        after = json.loads((out / "assessment.json").read_text())
        assert set(after["summary"]) == {"cn"}
        assert json.loads((out / "findings.json").read_text())["tool"]["started"] == \
            res_started  # the scan itself was not run again
        # not firmware at all: the scan fails with firmpass's bilingual reason, the upload is kept
        r = api.post(f"/api/v1/products/{pid}/versions", files={"file": ("notes.txt", b"release notes\n" * 100)},
                     headers=h)
        doc = wait_scan(lambda: api.get(f"/api/v1/scans/{r.json()['scan']}", headers=h).json())
        assert doc["status"] == "failed" and "text" in doc["error"] and " / " in doc["error"], doc
    finally:
        srv.close()


def test_unfinished_scan_is_run_again_at_start(corpus, tmp_path):
    data = tmp_path / "data"
    app = create_app(Settings(data=data, vulns_db=str(tmp_path / "none.db"), secure_cookies=False))
    srv = app.state.srv
    image = corpus / "etc.tar.gz"
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    shutil.copyfile(image, srv.image_path(digest))
    os.chmod(srv.image_path(digest), 0o440)
    with srv.Session() as s:
        add_user(s, "a@a.example", "pw-long-enough", "Org A", "analyst")
        p = Product(org_id=s.query(Org).one().id, name="Camera", profile=PROFILE)
        s.add(p)
        s.flush()
        v = Version(product_id=p.id, label="1", filename="etc.tar.gz", sha256=digest, size=image.stat().st_size,
                    uploaded_by="a@a.example")
        s.add(v)
        s.flush()
        # what a server killed mid-scan leaves: the row says running, the output is half written
        sc = Scan(version_id=v.id, status="running", attempts=1)
        s.add(sc)
        s.commit()
        sid = sc.id
    (srv.scan_dir(sid) / "out").mkdir(parents=True)
    (srv.scan_dir(sid) / "out" / "findings.json").write_text("{half", encoding="utf-8")
    srv.close()

    app2 = create_app(Settings(data=data, vulns_db=str(tmp_path / "none.db"), secure_cookies=False))
    srv2 = app2.state.srv
    try:
        assert srv2.resume() == 1

        def status():
            with srv2.Session() as s:
                r = s.get(Scan, sid)
                return {"status": r.status, "attempts": r.attempts, "summary": r.summary, "error": r.error}
        doc = wait_scan(status)
        assert doc["status"] == "done" and doc["attempts"] == 2, doc
        assert doc["summary"]["files"] > 10
    finally:
        srv2.close()
