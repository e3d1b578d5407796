"""Telling people about a newly exploited vulnerability in a shipped version: an e-mail through the
configured SMTP server and/or a JSON POST to a webhook.  The Python standard library is enough for
both (smtplib, urllib); nothing is sent when neither is configured.  This is the only part of the
server that makes an outgoing connection, and only to addresses the operator configured."""
from __future__ import annotations

import json
import smtplib
import urllib.request
from email.message import EmailMessage
from typing import Any


def send(cfg: dict[str, Any], subject: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Returns one record per channel tried: {"channel", "ok", "detail"}."""
    out = []
    if cfg.get("webhook"):
        try:
            req = urllib.request.Request(cfg["webhook"], data=json.dumps({"subject": subject, **body}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - the operator's own URL
                out.append({"channel": "webhook", "ok": 200 <= r.status < 300, "detail": str(r.status)})
        except OSError as e:
            out.append({"channel": "webhook", "ok": False, "detail": str(e)})
    if cfg.get("smtp") and cfg.get("mail_to"):
        try:
            host, _, port = str(cfg["smtp"]).partition(":")
            m = EmailMessage()
            m["Subject"], m["From"], m["To"] = subject, cfg.get("mail_from") or "firmpass@localhost", cfg["mail_to"]
            m.set_content(json.dumps(body, ensure_ascii=False, indent=1))
            with smtplib.SMTP(host, int(port or 25), timeout=10) as s:
                s.send_message(m)
            out.append({"channel": "email", "ok": True, "detail": cfg["mail_to"]})
        except (OSError, smtplib.SMTPException) as e:
            out.append({"channel": "email", "ok": False, "detail": str(e)})
    return out
