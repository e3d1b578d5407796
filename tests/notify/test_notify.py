"""Notifications: a real scan of the corpus router, the store then learns that its curl has an
exploited vulnerability; `firmpass watch --notify` sends one e-mail through a local SMTP server
(aiosmtpd) and one webhook POST to a local HTTP server, in both languages, signed; a second watch sends
nothing; a version not yet on the market is not alerted; a channel that fails is reported."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import json
import socket
import threading

import pytest
import yaml

from firmpass.notify import exploited_alerts, signature
from tests.batch.scenario import CVE, FIX, cli, scan, store_learns_curl, store_without_curl

pytestmark = pytest.mark.corpus
SECRET = "s3cret-for-the-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    c = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    c.start()
    try:
        yield c, inbox
    finally:
        c.stop()


@pytest.fixture
def hook():
    got = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            got.append((dict(self.headers), self.rfile.read(n)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            return None

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/hook", got
    finally:
        srv.shutdown()
        srv.server_close()
        th.join(5)


@pytest.fixture(scope="module")
def product(tmp_path_factory, corpus):
    w = tmp_path_factory.mktemp("notify")
    db = store_without_curl(w)
    out = scan(corpus / "rootfs-gzip.sqfs", w / "out", db, "--profile", str(FIX / "profile-full.yaml"))
    store_learns_curl(w, db)
    return {"w": w, "db": db, "out": out}


def _fresh_copy(product, dst):
    """The saved scan as watch reads it (findings.json, assessment.json), never watched yet."""
    import shutil

    dst.mkdir()
    for name in ("findings.json", "assessment.json"):
        shutil.copy(product["out"] / name, dst / name)
    return dst


def test_watch_sends_mail_and_webhook_once(product, smtp, hook, tmp_path):
    out = _fresh_copy(product, tmp_path / "out")  # its first watch is the one that sees the exploitation
    controller, inbox = smtp
    url, got = hook
    cfg = tmp_path / "notify.yaml"
    cfg.write_text(yaml.safe_dump({"email": {"host": "127.0.0.1", "port": controller.port, "from": "firmpass@acme.test",
                                             "to": ["psirt@acme.test", "lead@acme.test"]},
                                   "webhook": {"url": url, "secret_env": "HOOK_SECRET", "headers": {"X-Team": "psirt"}}}))
    r = cli("watch", str(out), "--db", str(product["db"]), "--notify", str(cfg), env_extra={"HOOK_SECRET": SECRET})
    assert r.returncode == 0, r.stderr
    assert "email notification sent for 1 vulnerability(ies) to psirt@acme.test, lead@acme.test" in r.stdout
    assert "webhook notification sent" in r.stdout and "发送 webhook 通知" in r.stdout
    (mail_from, rcpts, raw), = inbox.messages
    assert mail_from == "firmpass@acme.test" and rcpts == ["psirt@acme.test", "lead@acme.test"]
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert CVE in m["Subject"] and "已被利用" in m["Subject"]
    body = m.get_body(("plain",)).get_content()
    assert f"{CVE} in curl 7.88.1, libcurl 7.88.1 - product ACME R1000 Wi-Fi Router 1.0.0" in body
    assert "CISA KEV" in body and "早期预警" in body and "24 hours" in body
    (att,) = [p for p in m.iter_attachments() if p.get_filename() == "firmpass-alerts.json"]
    alerts = json.loads(att.get_content())["alerts"]
    assert [a["id"] for a in alerts] == [CVE] and alerts[0]["early_warning_due"]
    (headers, payload), = got
    assert headers["X-Firmpass-Signature"] == signature(SECRET, payload) and headers["X-Team"] == "psirt"
    doc = json.loads(payload)
    assert doc["event"] == "firmpass.exploited_vulnerability" and [a["id"] for a in doc["alerts"]] == [CVE]
    assert doc["summary"]["en"].startswith("[firmpass] 1 newly exploited") and "已发布固件" in doc["summary"]["zh"]
    # the next watch has nothing newly exploited: nothing is sent again
    r = cli("watch", str(out), "--db", str(product["db"]), "--notify", str(cfg), env_extra={"HOOK_SECRET": SECRET})
    assert r.returncode == 0 and len(inbox.messages) == 1 and len(got) == 1 and "sent" not in r.stdout


def test_version_not_yet_on_the_market_is_not_alerted(product):
    from firmpass.watch import load_scan

    sc = load_scan(product["out"])
    now = dt.datetime.now(dt.timezone.utc)
    doc = {"newly_exploited": [{"id": CVE, "component": "curl", "version": "7.88.1", "severity": "high",
                                "exploited": {"kev": "2026-01-01", "euvd": None}}],
           "art14": [], "product": sc.product, "scan": {"out": str(sc.out), "image": "x", "sha256": "0"}}
    assert [a["id"] for a in exploited_alerts([sc], [doc], now)] == [CVE]  # placed on the market 2026-03-01
    sc.profile = {**sc.profile, "support": {**sc.profile["support"],
                                            "placed_on_market": (now + dt.timedelta(days=30)).date().isoformat()}}
    assert exploited_alerts([sc], [doc], now) == []


def test_failing_channel_is_reported_and_the_watch_goes_on(product, tmp_path):
    out = _fresh_copy(product, tmp_path / "out")
    cfg = tmp_path / "notify.yaml"
    cfg.write_text(yaml.safe_dump({"webhook": {"url": f"http://127.0.0.1:{_free_port()}/closed", "timeout": 5}}))
    r = cli("watch", str(out), "--db", str(product["db"]), "--notify", str(cfg), "--fail-on", "exploited")
    assert r.returncode == 1, r.stderr  # --fail-on still decides the exit code
    assert "the webhook notification could not be sent" in r.stderr and "webhook 通知发送失败" in r.stderr
    assert "Traceback" not in r.stderr and (out / "watch.json").is_file()


def test_bad_settings_stop_before_watching(product, tmp_path):
    cfg = tmp_path / "notify.yaml"
    cfg.write_text(yaml.safe_dump({"webhook": {"url": "file:///etc/passwd"}}))
    r = cli("watch", str(product["out"]), "--db", str(product["db"]), "--notify", str(cfg))
    assert r.returncode == 2 and "notification settings" in r.stderr and "通知配置" in r.stderr
    assert "webhook/url" in r.stderr
