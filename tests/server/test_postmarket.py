"""Post-market on the server: a shipped version's scan is watched from the dashboard; when the store
later learns that its curl has an exploited vulnerability, the next check opens an Article 14 clock
on the dashboard and sends the notification (firmpass.notify's webhook, to a local HTTP server); the
scenario is the one of tests/batch/scenario.py (a store without curl's records, then curl's advisory
and a KEV entry)."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from firmpass.server.app import Settings, create_app
from firmpass.server.auth import add_user
from firmpass.server.db import Event, Org, Product, Scan, Version
from tests.batch.scenario import CVE, store_learns_curl, store_without_curl
from tests.notify.test_notify import hook  # noqa: F401 - the local webhook receiver

from .conftest import login

pytestmark = pytest.mark.corpus


def test_new_exploited_vulnerability_opens_a_clock_and_notifies(corpus, tmp_path, hook):  # noqa: F811
    import hashlib
    import os
    import shutil

    url, got = hook
    db = store_without_curl(tmp_path)
    app = create_app(Settings(data=tmp_path / "data", vulns_db=str(db), secure_cookies=False,
                              notify={"webhook": {"url": url}}))
    srv = app.state.srv
    try:
        image = corpus / "firmware.bin"
        digest = hashlib.sha256(image.read_bytes()).hexdigest()
        shutil.copyfile(image, srv.image_path(digest))
        os.chmod(srv.image_path(digest), 0o440)
        with srv.Session() as s:
            add_user(s, "psirt@maker.example", "correct horse battery", "Maker", "analyst")
            p = Product(org_id=s.query(Org).one().id, name="Router",
                        profile={"schema_version": 1, "product": {"name": "Router"}, "markets": ["eu"],
                                 "support": {"placed_on_market": "2025-01-01"}})
            s.add(p)
            s.flush()
            v = Version(product_id=p.id, label="1.0", filename=image.name, sha256=digest, size=image.stat().st_size,
                        uploaded_by="t")
            s.add(v)
            s.flush()
            sc = Scan(version_id=v.id, status="queued", attempts=0)
            s.add(sc)
            s.flush()
            srv.run_now(s, sc)  # the same task the cluster runs, in this process
            pid = p.id
        with TestClient(app) as c:
            csrf = login(c, "psirt@maker.example")
            assert c.post(f"/products/{pid}/watch", data={"csrf": csrf}).status_code == 200
            assert got == []  # first look: the baseline, nothing exploited
            store_learns_curl(tmp_path, db)
            page = c.post(f"/products/{pid}/watch", data={"csrf": csrf})
            assert page.status_code == 200
            assert CVE in page.text and "early warning due (24 h)" in page.text  # the Art. 14 clock on the dashboard
            assert "notified: webhook" in page.text
            assert len(got) == 1
            body = json.loads(got[0][1])
            assert CVE in json.dumps(body)
            with srv.Session() as s:
                ev = s.query(Event).filter_by(kind="newly_exploited").one()
                assert ev.detail["vulnerabilities"] == [CVE] and ev.detail["sent"][0]["ok"] is True
            # a third look sends nothing new
            c.post(f"/products/{pid}/watch", data={"csrf": csrf})
            assert len(got) == 1
            # the drafts are downloadable from the dashboard
            draft = next(x for x in page.text.split('href="')[1:] if "/draft/" in x).split('"')[0]
            r = c.get(draft)
            assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    finally:
        srv.close()
