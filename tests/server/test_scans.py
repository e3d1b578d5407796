"""Scans under the server: an upload through the API becomes a Dask task whose stages are reported
as they run, and a scan left unfinished by a server that stopped is run again when the next server
starts (the stored upload is not lost).  A small corpus archive keeps this quick."""
from __future__ import annotations

import hashlib
import os
import shutil
import time

from fastapi.testclient import TestClient

from firmpass.server.app import Settings, create_app
from firmpass.server.auth import add_user, new_api_token
from firmpass.server.db import Org, Product, Scan, Version

from .conftest import PROFILE

STAGES = ["unpack", "inventory", "identify", "vulns", "sbom", "checks", "assess", "report", "evidence"]


def _wait(get, timeout=180):
    t0 = time.time()
    while time.time() - t0 < timeout:
        doc = get()
        if doc["status"] in ("done", "failed"):
            return doc
        time.sleep(0.3)
    raise AssertionError(f"scan not finished in {timeout} s: {doc}")


def test_upload_through_api_runs_on_dask(corpus, tmp_path):
    app = create_app(Settings(data=tmp_path / "data", vulns_db=str(tmp_path / "none.db"), secure_cookies=False))
    srv = app.state.srv
    try:
        with srv.Session() as s:
            u = add_user(s, "a@a.example", "pw-long-enough", "Org A", "analyst")
            o = s.query(Org).one()
            p = Product(org_id=o.id, name="Camera", profile=PROFILE)
            s.add(p)
            s.flush()
            tok, pid = new_api_token(s, u, "t"), p.id
            s.commit()
        api = TestClient(app)
        h = {"Authorization": f"Bearer {tok}"}
        image = corpus / "etc.tar.gz"
        with open(image, "rb") as fh:
            r = api.post(f"/api/v1/products/{pid}/versions", files={"file": ("etc.tar.gz", fh)}, data={"label": "0.9"},
                         headers=h)
        assert r.status_code == 201, r.text
        sid = r.json()["scan"]
        doc = _wait(lambda: api.get(f"/api/v1/scans/{sid}", headers=h).json())
        assert doc["status"] == "done", doc
        assert [st["stage"] for st in doc["stages"]] == STAGES and all(st["status"] == "ok" for st in doc["stages"])
        assert doc["stages"][0]["counts"]["files"] > 10
        # the upload is kept under its sha256, read-only, and the results are served
        digest = hashlib.sha256(image.read_bytes()).hexdigest()
        kept = tmp_path / "data" / "images" / digest
        assert kept.read_bytes() == image.read_bytes() and oct(kept.stat().st_mode & 0o777) == "0o440"
        res = api.get(f"/api/v1/scans/{sid}/results", headers=h).json()
        assert res["image"] == digest and res["summary"]
        assert api.get(f"/api/v1/scans/{sid}/download/evidence", headers=h).content[:2] == b"PK"
        assert srv.runner.client.scheduler_info()["workers"]  # it ran on the Dask cluster
        # not firmware at all: the scan fails with firmpass's bilingual reason, the upload is kept
        r = api.post(f"/api/v1/products/{pid}/versions", files={"file": ("notes.txt", b"release notes\n" * 100)},
                     headers=h)
        doc = _wait(lambda: api.get(f"/api/v1/scans/{r.json()['scan']}", headers=h).json())
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
        doc = _wait(status)
        assert doc["status"] == "done" and doc["attempts"] == 2, doc
        assert doc["summary"]["files"] > 10
    finally:
        srv2.close()
