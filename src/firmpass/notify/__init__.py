"""Notifications after a watch: a new exploited vulnerability in a shipped firmware version is sent by
e-mail (through the SMTP server the team configures) and/or to a webhook.

    cfg = load_config(Path("notify.yaml"))
    alerts = exploited_alerts(scans, docs, now)     # from firmpass.watch: SavedScan list + watch docs
    results = send(alerts, cfg)                     # [{"channel": "email", "ok": True, ...}, ...]

The settings file (YAML), every key optional except where a channel needs it:

    email:
      host: smtp.example.com        # required for e-mail
      port: 587                     # default 25 (465 with security: ssl)
      security: starttls            # none | starttls | ssl  (default none)
      username: alerts@example.com  # log in only when given
      password_env: SMTP_PASSWORD   # the password is read from this environment variable, never the file
      from: alerts@example.com      # required
      to: [psirt@example.com]       # required, one or more
      timeout: 20
    webhook:
      url: https://hooks.example.com/firmpass   # http or https
      secret_env: WEBHOOK_SECRET    # when set: X-Firmpass-Signature: sha256=<HMAC-SHA256 of the body>
      headers: {X-Team: psirt}
      timeout: 10

What triggers: the watch's `newly_exploited` rows (evidence of exploitation firmpass sees for the
first time for that saved scan, so a second watch does not send again), for a version that is shipped:
its profile's `support.placed_on_market` is a date not in the future, or the profile does not say (a
scan being watched is taken to be of a shipped version); a version whose market date is still ahead
is not alerted.  Sending is the only network use, and only after `firmpass watch --notify FILE` asks
for it; a channel that fails is reported (one bilingual line) and does not stop the others or the
watch.  smtplib and urllib are the standard library's: nothing more is needed for one message.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from firmpass.errors import FirmpassError
from firmpass.model import Text

MAX_CONFIG = 64 * 1024
SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "email": {"type": "object", "additionalProperties": False, "required": ["host", "from", "to"],
                  "properties": {"host": {"type": "string", "minLength": 1},
                                 "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                                 "security": {"enum": ["none", "starttls", "ssl"]},
                                 "username": {"type": "string"}, "password_env": {"type": "string"},
                                 "from": {"type": "string", "minLength": 3},
                                 "to": {"oneOf": [{"type": "string", "minLength": 3},
                                                  {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 3}}]},
                                 "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 300}}},
        "webhook": {"type": "object", "additionalProperties": False, "required": ["url"],
                    "properties": {"url": {"type": "string", "pattern": "^https?://"},
                                   "secret_env": {"type": "string"},
                                   "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                                   "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 300}}},
    },
}


@lru_cache(maxsize=None)
def _catalogue() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(resources.files(__package__).joinpath("messages.yaml").read_text(encoding="utf-8"))
    for key, entry in data.items():
        if not (isinstance(entry, dict) and entry.get("en") and entry.get("zh")):
            raise ValueError(f"notify message {key!r} lacks en or zh")
    return data


def text(key: str, **kw) -> Text:
    from firmpass.i18n import fill

    e = _catalogue()[key]
    return fill(e["en"], e["zh"], kw)


class NotifyError(FirmpassError):
    def __init__(self, key: str, **kw):
        self.text = text(key, **kw)
        Exception.__init__(self, self.text.en)


def load_config(path: Path) -> dict[str, Any]:
    """The settings file, validated (a bad file stops `watch --notify` before anything is watched)."""
    import jsonschema

    try:
        if path.stat().st_size > MAX_CONFIG:
            raise NotifyError("notify.err.config", path=str(path), detail="larger than 64 KiB")
        cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise NotifyError("notify.err.config", path=str(path), detail=e.strerror or str(e)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise NotifyError("notify.err.config", path=str(path), detail=type(e).__name__) from None
    errs = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(cfg), key=lambda e: list(e.path))
    if errs:
        e = errs[0]
        where = "/".join(map(str, e.path)) or "-"
        raise NotifyError("notify.err.config", path=str(path), detail=f"{where}: {e.message[:200]}")
    if not cfg:
        raise NotifyError("notify.err.config", path=str(path), detail="neither email nor webhook is set")
    return cfg


# ------------------------------------------------------------------------------------------ what to send
def shipped(profile: dict[str, Any] | None, now: dt.datetime) -> bool:
    when = ((profile or {}).get("support") or {}).get("placed_on_market")
    if not when:
        return True
    try:
        return dt.date.fromisoformat(str(when)[:10]) <= now.date()
    except ValueError:
        return True


def exploited_alerts(scans, docs: list[dict[str, Any]], now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """One alert per (newly exploited vulnerability, shipped firmware version), from a watch's output."""
    now = now or dt.datetime.now(dt.timezone.utc)
    alerts = []
    for sc, doc in zip(scans, docs):
        if not shipped(sc.profile, now):
            continue
        a14 = {a["id"]: a for a in doc.get("art14") or []}
        by_id: dict[str, dict[str, Any]] = {}
        for r in doc.get("newly_exploited") or []:
            a = by_id.setdefault(r["id"], {
                "id": r["id"], "components": [], "severity": r.get("severity"), "epss": r.get("epss"),
                "exploited": r.get("exploited") or {}, "product": doc["product"], "out": doc["scan"]["out"],
                "image": doc["scan"]["image"], "sha256": doc["scan"]["sha256"],
                "early_warning_due": (a14.get(r["id"]) or {}).get("early_warning_due"),
                "notification_due": (a14.get(r["id"]) or {}).get("notification_due")})
            comp = {"name": r.get("component"), "version": r.get("version")}
            if comp not in a["components"]:
                a["components"].append(comp)
        alerts.extend(by_id.values())
    return alerts


def _evidence(a: dict[str, Any]) -> str:
    e = a.get("exploited") or {}
    parts = []
    if e.get("kev"):
        parts.append(f"CISA KEV {e['kev']}")
    if e.get("euvd"):
        parts.append(f"ENISA EUVD {e['euvd']}")
    return ", ".join(parts) or "-"


def compose(alerts: list[dict[str, Any]]) -> tuple[Text, Text]:
    """(subject, body) in both languages: the English body, then the Chinese one."""
    ids = sorted({a["id"] for a in alerts})
    subject = text("notify.subject", n=len(ids), ids=", ".join(ids[:5]) + (" ..." if len(ids) > 5 else ""))
    items = []
    for a in alerts:
        comps = ", ".join(f"{c['name']} {c['version'] or ''}".strip() for c in a["components"])
        items.append(text("notify.item", id=a["id"], component=comps, product=a["product"]["name"],
                          fw=a["product"]["version"], out=a["out"], evidence=_evidence(a),
                          due=a.get("early_warning_due") or "-"))
    intro, foot = text("notify.intro"), text("notify.footer")
    en = "\n".join([intro.en, ""] + [f"- {i.en}" for i in items] + ["", foot.en])
    zh = "\n".join([intro.zh, ""] + [f"- {i.zh}" for i in items] + ["", foot.zh])
    return subject, Text(en=en, zh=zh)


# ------------------------------------------------------------------------------------------ channels
def send_email(cfg: dict[str, Any], alerts: list[dict[str, Any]]) -> str:
    import smtplib
    import ssl
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    subject, body = compose(alerts)
    to = cfg["to"] if isinstance(cfg["to"], list) else [cfg["to"]]
    m = EmailMessage()
    m["Subject"] = f"{subject.en} / {subject.zh}"
    m["From"] = cfg["from"]
    m["To"] = ", ".join(to)
    m["Date"] = formatdate(localtime=False)
    m["Message-ID"] = make_msgid(domain="firmpass.invalid")
    m.set_content(f"{body.en}\n\n----\n\n{body.zh}\n", charset="utf-8")
    m.add_attachment(json.dumps({"alerts": alerts}, ensure_ascii=False, indent=1, default=str).encode("utf-8"),
                     maintype="application", subtype="json", filename="firmpass-alerts.json")
    sec = cfg.get("security", "none")
    port = cfg.get("port") or (465 if sec == "ssl" else 25)
    timeout = cfg.get("timeout", 20)
    ctx = ssl.create_default_context()
    if sec == "ssl":
        server = smtplib.SMTP_SSL(cfg["host"], port, timeout=timeout, context=ctx)
    else:
        server = smtplib.SMTP(cfg["host"], port, timeout=timeout)
    with server:
        if sec == "starttls":
            server.starttls(context=ctx)
        if cfg.get("username"):
            server.login(cfg["username"], os.environ.get(cfg.get("password_env") or "", ""))
        server.send_message(m, from_addr=cfg["from"], to_addrs=to)
    return ", ".join(to)


def webhook_payload(alerts: list[dict[str, Any]], now: dt.datetime | None = None) -> bytes:
    from firmpass import __version__

    subject, body = compose(alerts)
    now = now or dt.datetime.now(dt.timezone.utc)
    doc = {"event": "firmpass.exploited_vulnerability", "tool": f"firmpass {__version__}",
           "sent": now.isoformat(timespec="seconds"), "summary": subject.model_dump(), "text": body.model_dump(),
           "alerts": alerts}
    return json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def send_webhook(cfg: dict[str, Any], alerts: list[dict[str, Any]]) -> str:
    import urllib.request

    from firmpass import __version__

    body = webhook_payload(alerts)
    headers = {**(cfg.get("headers") or {}), "Content-Type": "application/json; charset=utf-8",
               "User-Agent": f"firmpass/{__version__}"}
    secret = os.environ.get(cfg.get("secret_env") or "")
    if secret:
        headers["X-Firmpass-Signature"] = signature(secret, body)
    req = urllib.request.Request(cfg["url"], data=body, headers=headers, method="POST")
    # no redirects followed to another place silently: urllib follows them for GET only, not for POST
    with urllib.request.urlopen(req, timeout=cfg.get("timeout", 10)) as resp:  # noqa: S310 - http(s) only (schema)
        if not 200 <= resp.status < 300:
            raise OSError(f"HTTP {resp.status}")
    return cfg["url"]


def send(alerts: list[dict[str, Any]], cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every configured channel tried once; each result says whether it was sent and a bilingual line."""
    from firmpass.i18n import exc_detail

    results = []
    if not alerts:
        return results
    n = len({a["id"] for a in alerts})
    for channel, fn in (("email", send_email), ("webhook", send_webhook)):
        if channel not in cfg:
            continue
        try:
            to = fn(cfg[channel], alerts)
            results.append({"channel": channel, "ok": True, "to": to,
                            "text": text("notify.info.sent", channel=channel, n=n, to=to).model_dump()})
        except Exception as e:  # noqa: BLE001 - a channel that fails is reported; the watch and other channels go on
            results.append({"channel": channel, "ok": False, "detail": exc_detail(e),
                            "text": text("notify.warn.failed", channel=channel, detail=exc_detail(e)).model_dump()})
    return results
