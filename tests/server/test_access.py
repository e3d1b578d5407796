"""Access control of the team server: roles, organisation isolation (404, never 403, across
organisations, through pages and the API), CSRF on every form, passwords stored as argon2."""
from __future__ import annotations

from fastapi.testclient import TestClient

from firmpass.server.db import FindingDecision, User, VexDecision

from .conftest import PW, login

VEX = {"vuln_id": "CVE-2023-38545", "component": "pkg:deb/debian/curl", "status": "not_affected",
       "justification": "code_not_reachable", "note": "SOCKS5 proxy never used"}


def _count(app, model) -> int:
    with app.state.srv.Session() as s:
        return s.query(model).count()


def test_viewer_cannot_triage(server, client):
    app, ids = server
    csrf = login(client, "viewer@a.example")
    vid = ids["Org A"]["version"]
    r = client.post(f"/versions/{vid}/vex", data={**VEX, "csrf": csrf})
    assert r.status_code == 403
    r = client.post(f"/versions/{vid}/findings", data={"finding": "CRED-002", "kind": "accepted_risk",
                                                        "reason": "x", "csrf": csrf})
    assert r.status_code == 403
    r = client.post(f"/versions/{vid}/rescan", data={"csrf": csrf})
    assert r.status_code == 403
    assert _count(app, VexDecision) == 0 and _count(app, FindingDecision) == 0
    # the viewer still reads the product, and its pages offer no triage form
    page = client.get(f"/versions/{vid}?tab=vulns")
    assert page.status_code == 200 and "/vex" not in page.text


def test_analyst_triages_and_history_keeps_who_and_when(server, client):
    app, ids = server
    csrf = login(client, "analyst@a.example")
    vid, pid = ids["Org A"]["version"], ids["Org A"]["product"]
    r = client.post(f"/versions/{vid}/vex", data={**VEX, "csrf": csrf})
    assert r.status_code == 200 and r.url.path == f"/versions/{vid}"
    r = client.post(f"/versions/{vid}/vex", data={**VEX, "status": "affected", "justification": "", "csrf": csrf})
    hist = client.get(f"/products/{pid}").text
    assert hist.count("CVE-2023-38545") == 2 and "analyst@a.example" in hist and "SOCKS5 proxy never used" in hist
    with app.state.srv.Session() as s:
        rows = s.query(VexDecision).order_by(VexDecision.id).all()
        assert [d.status for d in rows] == ["not_affected", "affected"] and all(d.at for d in rows)


def test_other_org_is_404_in_pages(server, client):
    _, ids = server
    csrf = login(client, "analyst@a.example")
    b = ids["Org B"]
    for url in (f"/products/{b['product']}", f"/products/{b['product']}/profile", f"/versions/{b['version']}",
                f"/orgs/{b['org']}/products/new",
                f"/products/{b['product']}/compare?a={b['version']}&b={b['version']}"):
        assert client.get(url).status_code == 404, url
    for url, data in ((f"/versions/{b['version']}/vex", VEX), (f"/products/{b['product']}/watch", {}),
                      (f"/orgs/{b['org']}/products", {"q.product.name": "x"})):
        assert client.post(url, data={**data, "csrf": csrf}).status_code == 404, url
    # and the portfolio does not name org B's product
    assert "Camera of Org B" not in client.get("/").text


def test_other_org_is_404_in_api(server, client):
    _, ids = server
    csrf = login(client, "analyst@a.example")
    r = client.post("/account/tokens", data={"name": "ci", "csrf": csrf})
    token = r.text.split('id="new-token">', 1)[1].split("<", 1)[0]
    api = TestClient(client.app)  # no cookies: the API authenticates by token only
    h = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/products").status_code == 401
    names = [p["name"] for p in api.get("/api/v1/products", headers=h).json()]
    assert names == ["Camera of Org A"]
    b = ids["Org B"]
    for url in (f"/api/v1/products/{b['product']}", f"/api/v1/products/{b['product']}/versions",
                f"/api/v1/versions/{b['version']}/decisions"):
        assert api.get(url, headers=h).status_code == 404, url
    assert api.post(f"/api/v1/versions/{b['version']}/decisions", json=VEX, headers=h).status_code == 404
    a = ids["Org A"]
    r = api.post(f"/api/v1/versions/{a['version']}/decisions", json=VEX, headers=h)
    assert r.status_code == 201
    assert api.get(f"/api/v1/versions/{a['version']}/decisions", headers=h).json()["vex"][0]["who"] == "analyst@a.example"
    assert "/api/v1/products/{pid}/versions" in api.get("/api/v1/openapi.json").json()["paths"]


def test_posts_without_csrf_are_refused(server, client):
    app, ids = server
    csrf = login(client, "analyst@a.example")
    vid = ids["Org A"]["version"]
    for data in ({}, {"csrf": "forged" + csrf[6:]}):
        assert client.post(f"/versions/{vid}/vex", data={**VEX, **data}).status_code == 403
        assert client.post(f"/orgs/{ids['Org A']['org']}/products",
                           data={"q.product.name": "Forged", **data}).status_code == 403
        assert client.post("/logout", data=data).status_code == 403
    assert _count(app, VexDecision) == 0
    # the login form too: a post without the pre-session token is refused
    fresh = TestClient(client.app)
    assert fresh.post("/login", data={"email": "analyst@a.example", "password": PW}).status_code == 403


def test_passwords_are_argon2_and_wrong_ones_fail(server, client):
    app, _ = server
    with app.state.srv.Session() as s:
        u = s.query(User).filter_by(email="viewer@a.example").one()
        assert u.pw_hash.startswith("$argon2id$") and PW not in u.pw_hash
    r = client.get("/login")
    from .conftest import csrf_of

    r = client.post("/login", data={"email": "viewer@a.example", "password": "wrong", "csrf": csrf_of(r.text)})
    assert r.status_code == 401
    assert client.get("/", follow_redirects=False).status_code == 303


def test_pages_send_a_strict_csp_and_escape_image_text(server, client):
    app, ids = server
    login(client, "analyst@a.example")
    with app.state.srv.Session() as s:
        from firmpass.server.db import Product

        p = s.get(Product, ids["Org A"]["product"])
        p.name = "<script>alert(1)</script>"
        s.commit()
    r = client.get("/")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


def test_upload_limit_and_cookie_flags(server, tmp_path):
    """An upload over --max-upload-mb is refused while streaming (413) and nothing is kept; the
    session cookie is HttpOnly and SameSite, and Secure when the server says so."""
    from firmpass.server.app import Settings, create_app

    app, ids = server
    data = app.state.srv.cfg.data
    app.state.srv.close()
    small = create_app(Settings(data=data, secure_cookies=True, max_upload=1024))
    try:
        c = TestClient(small, base_url="https://testserver")
        r = c.get("/login")
        from .conftest import csrf_of

        r = c.post("/login", data={"email": "analyst@a.example", "password": PW, "csrf": csrf_of(r.text)},
                   follow_redirects=False)
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
        csrf = csrf_of(c.get("/").text)
        r = c.post(f"/products/{ids['Org A']['product']}/versions", data={"csrf": csrf, "label": "big"},
                   files={"file": ("big.bin", b"\x7fELF" + b"\0" * 4096)})
        assert r.status_code == 413
        assert list((data / "images").iterdir()) == [] and list((data / "tmp").iterdir()) == []
    finally:
        small.state.srv.close()


def test_only_an_admin_manages_members(server, client):
    app, ids = server
    oa, ob = ids["Org A"]["org"], ids["Org B"]["org"]
    new = {"email": "new@a.example", "role": "viewer", "password": "a long enough password"}
    csrf = login(client, "analyst@a.example")
    assert client.get(f"/orgs/{oa}/members").status_code == 403
    assert client.post(f"/orgs/{oa}/members", data={**new, "csrf": csrf}).status_code == 403
    client.cookies.clear()
    csrf = login(client, "admin@a.example")
    assert client.get(f"/orgs/{ob}/members").status_code == 404  # not its organisation
    assert client.post(f"/orgs/{oa}/members", data={**new, "password": "short", "csrf": csrf}).status_code == 422
    r = client.post(f"/orgs/{oa}/members", data={**new, "csrf": csrf})
    assert r.status_code == 200 and "new@a.example" in r.text
    # the new viewer signs in, sees org A's product and cannot triage it
    fresh = TestClient(client.app)
    csrf2 = login(fresh, "new@a.example", "a long enough password")
    assert "Camera of Org A" in fresh.get("/").text
    assert fresh.post(f"/versions/{ids['Org A']['version']}/vex", data={**VEX, "csrf": csrf2}).status_code == 403
