"""A team server on a temporary data directory, with two organisations and three users.

Versions used by the access-control tests are rows only (no image scanned): what they check is
who may reach and change what, which does not depend on a scan's content."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from firmpass.server.app import Settings, create_app  # noqa: E402
from firmpass.server.auth import add_user  # noqa: E402
from firmpass.server.db import Org, Product, Version  # noqa: E402

PW = "correct horse battery"
PROFILE = {"schema_version": 1, "product": {"name": "Camera A"}, "markets": ["eu", "cn"]}


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def login(client: TestClient, email: str, pw: str = PW) -> str:
    """Sign in through the form; returns the session's CSRF token (from a page's forms)."""
    r = client.get("/login")
    r = client.post("/login", data={"email": email, "password": pw, "csrf": csrf_of(r.text)})
    assert r.status_code == 200 and r.url.path == "/", r.text[:300]
    return csrf_of(client.get("/").text)


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    """The migrated database with the users and products, made once (argon2 and Alembic take seconds);
    each test gets its own copy."""
    data = tmp_path_factory.mktemp("template") / "data"
    app = create_app(Settings(data=data, secure_cookies=False))
    srv = app.state.srv
    ids = {}
    with srv.Session() as s:
        add_user(s, "admin@a.example", PW, "Org A", "admin")
        add_user(s, "analyst@a.example", PW, "Org A", "analyst")
        add_user(s, "viewer@a.example", PW, "Org A", "viewer")
        add_user(s, "analyst@b.example", PW, "Org B", "analyst")
        for org in ("Org A", "Org B"):
            o = s.query(Org).filter_by(name=org).one()
            p = Product(org_id=o.id, name=f"Camera of {org}", profile=dict(PROFILE, product={"name": f"Camera of {org}"}))
            s.add(p)
            s.flush()
            v = Version(product_id=p.id, label="1.0", filename="fw.bin", sha256="0" * 64, size=1, uploaded_by="t")
            s.add(v)
            s.flush()
            ids[org] = {"org": o.id, "product": p.id, "version": v.id}
        s.commit()
    srv.close()
    return data, ids


@pytest.fixture
def server(_template, tmp_path):
    import shutil

    data, ids = _template
    shutil.copytree(data, tmp_path / "data")
    app = create_app(Settings(data=tmp_path / "data", secure_cookies=False))
    yield app, ids
    app.state.srv.close()


@pytest.fixture
def client(server):
    app, _ = server
    with TestClient(app) as c:
        yield c


def api_user_with_product(app, product: str, email: str = "a@a.example", pw: str = "pw-long-enough"):
    """One analyst of a new "Org A" on `app`'s store, a product `product` with PROFILE, and the analyst's
    API token: returns (API client, auth headers, product id)."""
    from firmpass.server.auth import new_api_token

    with app.state.srv.Session() as s:
        u = add_user(s, email, pw, "Org A", "analyst")
        p = Product(org_id=s.query(Org).one().id, name=product, profile=PROFILE)
        s.add(p)
        s.flush()
        tok, pid = new_api_token(s, u, "t"), p.id
        s.commit()
    return TestClient(app), {"Authorization": f"Bearer {tok}"}, pid


def wait_scan(get, timeout: float = 180) -> dict:
    """Poll get() (a scan's status document) until the scan is done or failed; fail after `timeout` s."""
    import time

    t0, doc = time.time(), None
    while time.time() - t0 < timeout:
        doc = get()
        if doc["status"] in ("done", "failed"):
            return doc
        time.sleep(0.3)
    raise AssertionError(f"scan not finished in {timeout} s: {doc}")
