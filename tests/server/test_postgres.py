"""The server's tables on PostgreSQL: created by the same Alembic migration, and the same
organisation isolation and triage through them.  A throw-away server from Debian's postgresql
package (the store's test fixture); skips with the reason when it is not installed."""
from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from firmpass.server.app import Settings, create_app
from firmpass.server.auth import add_user, new_api_token
from firmpass.server.db import Org, Product, Version, VexDecision
from tests.vulns.test_postgres import pg_url  # noqa: F401 - the PostgreSQL fixture


def test_server_on_postgres(pg_url, tmp_path):  # noqa: F811
    app = create_app(Settings(data=tmp_path / "data", db=pg_url, secure_cookies=False))
    srv = app.state.srv
    try:
        assert {"fp_alembic_version", "fp_product", "fp_vex_decision"} <= set(sa.inspect(srv.engine).get_table_names())
        ids = {}
        with srv.Session() as s:
            for org, email in (("Org A", "a@a.example"), ("Org B", "b@b.example")):
                u = add_user(s, email, "pw-long-enough", org, "analyst")
                o = s.query(Org).filter_by(name=org).one()
                p = Product(org_id=o.id, name=f"cam {org}", profile={"schema_version": 1, "product": {"name": "x"}})
                s.add(p)
                s.flush()
                v = Version(product_id=p.id, label="1", filename="f", sha256="0" * 64, size=1, uploaded_by=email)
                s.add(v)
                s.flush()
                ids[org] = (p.id, v.id, new_api_token(s, u, "t"))
            s.commit()
        api = TestClient(app)
        pa, va, tok = ids["Org A"]
        pb, vb, _ = ids["Org B"]
        h = {"Authorization": f"Bearer {tok}"}
        assert [p["id"] for p in api.get("/api/v1/products", headers=h).json()] == [pa]
        assert api.get(f"/api/v1/products/{pb}", headers=h).status_code == 404
        body = {"vuln_id": "CVE-2023-38545", "component": "curl", "status": "not_affected",
                "justification": "code_not_present", "note": "n"}
        assert api.post(f"/api/v1/versions/{vb}/decisions", json=body, headers=h).status_code == 404
        assert api.post(f"/api/v1/versions/{va}/decisions", json=body, headers=h).status_code == 201
        with srv.Session() as s:
            assert [(d.product_id, d.who) for d in s.query(VexDecision)] == [(pa, "a@a.example")]
    finally:
        srv.close()
